"""Dashboards: the marketplace report (money-ads-analytics.md §3.4) and an ad's conversions (§3.5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.analytics import repository
from packfinderz.analytics.ranges import Range
from packfinderz.analytics.repository import Perspective
from packfinderz.kit.errors import DependencyError
from packfinderz.kit.money import ratio, round_half_up
from packfinderz.kit.warehouse import Warehouse, WarehouseError

log = structlog.get_logger("analytics")

SERIES = ("orders", "gross_revenue_cents", "net_revenue_cents", "discounts_cents")
TOPS = ("top_products", "top_categories", "top_classifications", "top_zips")


def range_out(r: Range) -> dict[str, Any]:
    return {
        "from": r.start.isoformat(),
        "to": r.end.isoformat(),
        "bucket": r.bucket,
        "tz": r.tz.key,
    }


def _int(value: Any) -> int:
    return int(value or 0)


async def marketplace_report(
    session: AsyncSession,
    warehouse: Warehouse,
    store_id: uuid.UUID | None,
    perspective: Perspective,
    r: Range,
) -> dict[str, Any]:
    """`{range, kpis, series, top}` of one store from its perspective (of the whole marketplace when
    `store_id` is None); 503 when the warehouse fails."""
    try:
        found = await repository.marketplace_rows(
            session, warehouse, perspective, store_id, start=r.start, end=r.end, bucket=r.bucket, tz=r.tz.key
        )
    except WarehouseError as exc:
        log.warning("analytics.warehouse_unavailable", adapter=warehouse.adapter, error=str(exc)[:300])
        raise DependencyError("warehouse") from None
    labels = [r.label(b) for b in r.buckets()]
    series: dict[str, dict[str, int]] = {name: dict.fromkeys(labels, 0) for name in SERIES}
    kpis = {
        "orders": 0,
        "terminated_orders": 0,
        "gross_revenue_cents": 0,
        "net_revenue_cents": 0,
        "discounts_cents": 0,
        "aov_cents": 0,
        "new_customers": 0,
        "returning_customers": 0,
    }
    revenue_orders = 0
    top: dict[str, list[dict[str, Any]]] = {name: [] for name in TOPS}
    for row in found:
        part = row["part"]
        if part == "created":
            label = r.label(row["bucket"])
            series["orders"][label] = series["orders"].get(label, 0) + _int(row["a"])
            series["discounts_cents"][label] = series["discounts_cents"].get(label, 0) + _int(row["b"])
            kpis["orders"] += _int(row["a"])
            kpis["discounts_cents"] += _int(row["b"])
        elif part == "revenue":
            label = r.label(row["bucket"])
            series["gross_revenue_cents"][label] = series["gross_revenue_cents"].get(label, 0) + _int(
                row["b"]
            )
            series["net_revenue_cents"][label] = series["net_revenue_cents"].get(label, 0) + _int(row["c"])
            revenue_orders += _int(row["a"])
            kpis["gross_revenue_cents"] += _int(row["b"])
            kpis["net_revenue_cents"] += _int(row["c"])
        elif part == "terminated":
            kpis["terminated_orders"] = _int(row["a"])
        elif part == "customers":
            kpis["new_customers"] = _int(row["a"])
            kpis["returning_customers"] = _int(row["b"])
        elif part in top:
            entry: dict[str, Any] = {"label": row["label"], "value": _int(row["a"])}
            if part == "top_products":
                entry["id"] = row["id"]
            top[part].append(entry)
    if revenue_orders:
        kpis["aov_cents"] = round_half_up(ratio(kpis["gross_revenue_cents"], revenue_orders))
    for entries in top.values():
        entries.sort(key=lambda e: (-e["value"], e["label"], e.get("id") or ""))
    return {
        "range": range_out(r),
        "kpis": kpis,
        "series": {
            name: [{"date": k, "value": v} for k, v in values.items()] for name, values in series.items()
        },
        "top": top,
    }


async def top_vendors(session: AsyncSession, warehouse: Warehouse, r: Range) -> list[dict[str, Any]]:
    """The marketplace's top vendor stores over the range: `{store_id, orders, gross_revenue_cents}`."""
    try:
        found = await repository.top_vendor_rows(session, warehouse, start=r.start, end=r.end)
    except WarehouseError as exc:
        log.warning("analytics.warehouse_unavailable", adapter=warehouse.adapter, error=str(exc)[:300])
        raise DependencyError("warehouse") from None
    return [
        {
            "store_id": uuid.UUID(str(row["id"])),
            "orders": _int(row["orders"]),
            "gross_revenue_cents": _int(row["value"]),
        }
        for row in found
    ]


# --- ad conversions (§3.5) ------------------------------------------------------------------------


async def ad_conversions(
    session: AsyncSession, warehouse: Warehouse, ad_id: uuid.UUID, start: datetime, end: datetime
) -> dict[date, tuple[int, int]]:
    """An ad's `(conversions, revenue_cents)` per UTC day over `[start, end)`: distinct attributed
    orders of its `conversion` rows (an order counts on the day of its first one). Impressions, clicks
    and spend come from the ads domain (rollups and counters), never from the warehouse. 503 on a
    warehouse failure."""
    try:
        found = await repository.conversion_rows(session, warehouse, ad_id, start, end)
    except WarehouseError as exc:
        log.warning("analytics.warehouse_unavailable", adapter=warehouse.adapter, error=str(exc)[:300])
        raise DependencyError("warehouse") from None
    return {
        date.fromisoformat(str(r["day"])): (_int(r["conversions"]), _int(r["revenue_cents"])) for r in found
    }
