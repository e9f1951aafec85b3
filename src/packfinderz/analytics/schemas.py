"""Analytics responses (money-ads-analytics.md §3.4 to §3.6)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

# Example values: Mile High Growers (demo marketplace) over the default 30-day range in America/Denver.
_RANGE: JsonDict = {
    "from": "2026-11-07T08:45:00-07:00",
    "to": "2026-12-07T08:45:00-07:00",
    "bucket": "day",
    "tz": "America/Denver",
}
_KPIS: JsonDict = {
    "orders": 18,
    "terminated_orders": 2,
    "gross_revenue_cents": 842500,
    "net_revenue_cents": 811300,
    "discounts_cents": 31200,
    "aov_cents": 46805,
    "new_customers": 3,
    "returning_customers": 2,
}
_POINT: JsonDict = {"date": "2026-12-06", "value": 52500}
_SERIES: JsonDict = {
    "orders": [{"date": "2026-12-06", "value": 2}],
    "gross_revenue_cents": [_POINT],
    "net_revenue_cents": [{"date": "2026-12-06", "value": 50000}],
    "discounts_cents": [{"date": "2026-12-06", "value": 2500}],
}
_TOP_PRODUCT: JsonDict = {
    "id": "db07e077-ea8e-425a-b1cc-50dc9fb879fc",
    "label": "Master Kush Cart 0.5g",
    "value": 126000,
}
_TOP: JsonDict = {
    "top_products": [_TOP_PRODUCT],
    "top_categories": [{"label": "vape", "value": 310000}],
    "top_classifications": [{"label": "indica", "value": 288000}],
    "top_zips": [{"label": "80202", "value": 402500}],
}
REPORT_EXAMPLE: JsonDict = {"range": _RANGE, "kpis": _KPIS, "series": _SERIES, "top": _TOP}


class RangeOut(BaseModel):
    from_: str = Field(alias="from", description="Range start (RFC 3339, in ANALYTICS_TZ).")
    to: str = Field(description="Range end, exclusive (RFC 3339, in ANALYTICS_TZ).")
    bucket: Literal["hour", "day", "week"]
    tz: str

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [_RANGE]})


class Kpis(BaseModel):
    """Totals over the range (cents are USD cents)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_KPIS]})

    orders: int
    terminated_orders: int
    gross_revenue_cents: int
    net_revenue_cents: int
    discounts_cents: int
    aov_cents: int
    new_customers: int
    returning_customers: int


class Point(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_POINT]})

    date: str = Field(
        description="Bucket: `YYYY-MM-DDTHH:00:00±HH:MM` (hour) or `YYYY-MM-DD` (day, week's Monday)."
    )
    value: int


class Series(BaseModel):
    """One point per bucket of the range, oldest first, zero-filled."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SERIES]})

    orders: list[Point]
    gross_revenue_cents: list[Point]
    net_revenue_cents: list[Point]
    discounts_cents: list[Point]


class TopEntry(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "vape", "value": 310000}]})

    label: str
    value: int


class TopProduct(TopEntry):
    model_config = ConfigDict(json_schema_extra={"examples": [_TOP_PRODUCT]})

    id: str | None = Field(description="Product id.")


class Top(BaseModel):
    """Top entries by gross revenue (cents), biggest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TOP]})

    top_products: list[TopProduct]
    top_categories: list[TopEntry]
    top_classifications: list[TopEntry]
    top_zips: list[TopEntry]


class MarketplaceReport(BaseModel):
    """The dashboard of the active store over the requested range."""

    model_config = ConfigDict(json_schema_extra={"examples": [REPORT_EXAMPLE]})

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
