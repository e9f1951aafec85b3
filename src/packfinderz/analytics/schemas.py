"""Analytics responses (money-ads-analytics.md §3.4 to §3.6)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RangeOut(BaseModel):
    from_: str = Field(alias="from", description="Range start (RFC 3339, in ANALYTICS_TZ).")
    to: str = Field(description="Range end, exclusive (RFC 3339, in ANALYTICS_TZ).")
    bucket: Literal["hour", "day", "week"]
    tz: str

    model_config = {"populate_by_name": True}


class Kpis(BaseModel):
    orders: int
    terminated_orders: int
    gross_revenue_cents: int
    net_revenue_cents: int
    discounts_cents: int
    aov_cents: int
    new_customers: int
    returning_customers: int


class Point(BaseModel):
    date: str = Field(
        description="Bucket: `YYYY-MM-DDTHH:00:00±HH:MM` (hour) or `YYYY-MM-DD` (day, week's Monday)."
    )
    value: int


class Series(BaseModel):
    orders: list[Point]
    gross_revenue_cents: list[Point]
    net_revenue_cents: list[Point]
    discounts_cents: list[Point]


class TopEntry(BaseModel):
    label: str
    value: int


class TopProduct(TopEntry):
    id: str | None = Field(description="Product id.")


class Top(BaseModel):
    top_products: list[TopProduct]
    top_categories: list[TopEntry]
    top_classifications: list[TopEntry]
    top_zips: list[TopEntry]


class MarketplaceReport(BaseModel):
    range: RangeOut
    kpis: Kpis
    series: Series
    top: Top


class AdTotals(BaseModel):
    impressions: int
    clicks: int
    conversions: int
    spend_cents: int
    revenue_cents: int
    roas: float
    ctr: float
    cpc_cents: int
    cpm_cents: int


class AdDay(BaseModel):
    date: str
    impressions: int
    clicks: int
    conversions: int
    spend_cents: int
    revenue_cents: int


class AdAnalytics(BaseModel):
    metrics: AdTotals
    series: list[AdDay]
