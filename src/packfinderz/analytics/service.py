"""Dashboards: the marketplace report (money-ads-analytics.md §3.4) and an ad's metrics (§3.5)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.analytics import repository
from packfinderz.analytics.ranges import Range
from packfinderz.analytics.repository import Perspective
from packfinderz.kit.errors import DependencyError
from packfinderz.kit.money import EXACT, ratio, round_half_up
from packfinderz.kit.warehouse import Warehouse, WarehouseError

log = structlog.get_logger("analytics")

SERIES = ("orders", "gross_revenue_cents", "net_revenue_cents", "discounts_cents")
TOPS = ("top_products", "top_categories", "top_classifications", "top_zips")
# Redis ad counters live 8 days (platform.md §7): older days without a rollup read as zero.
COUNTER_DAYS = 8


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


# --- ad metrics (§3.5) ----------------------------------------------------------------------------------


def utc_days(r: Range) -> list[date]:
    """The UTC days `[start, end)` touches (ad metrics are per UTC day)."""
    first = r.start.astimezone(UTC).date()
    last = (r.end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _ratio4(numerator: int, denominator: int) -> float:
    if denominator == 0:
        return 0.0
    return float(
        ratio(numerator, denominator).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP, context=EXACT)
    )


def _cents(numerator: int, denominator: int) -> int:
    return 0 if denominator == 0 else round_half_up(ratio(numerator, denominator))


def counter_keys(ad_id: uuid.UUID, day: date) -> list[str]:
    """Redis keys of one ad's UTC day: impressions, clicks, spend (millicents) (platform.md §7)."""
    stamp = day.strftime("%Y%m%d")
    return [f"pf:ads:imps:{ad_id}:{stamp}", f"pf:ads:clicks:{ad_id}:{stamp}", f"pf:ads:spend:{ad_id}:{stamp}"]


async def ad_metrics(
    session: AsyncSession,
    warehouse: Warehouse,
    redis: Redis,
    *,
    ad_id: uuid.UUID,
    daily_budget_cents: int,
    r: Range,
    today: date | None = None,
) -> dict[str, Any]:
    """`{metrics, series}` of an ad: impressions, clicks and spend from `ad_daily_rollups` for rolled-up
    days and from the Redis counters for recent days without a rollup; conversions and revenue from the
    warehouse's `conversion` rows (distinct attributed orders). Warehouse errors → 503."""
    days = utc_days(r)
    today = today or datetime.now(UTC).date()
    per_day: dict[date, dict[str, int]] = {
        d: {"impressions": 0, "clicks": 0, "conversions": 0, "spend_cents": 0, "revenue_cents": 0}
        for d in days
    }
    rolled = await session.execute(
        text(
            "SELECT day, impressions, clicks, spend_cents FROM ad_daily_rollups "
            "WHERE ad_id = :ad AND day >= :first AND day <= :last"
        ),
        {"ad": ad_id, "first": days[0], "last": days[-1]},
    )
    seen: set[date] = set()
    for rolled_row in rolled.mappings():
        seen.add(rolled_row["day"])
        if rolled_row["day"] in per_day:
            per_day[rolled_row["day"]].update(
                impressions=int(rolled_row["impressions"]),
                clicks=int(rolled_row["clicks"]),
                spend_cents=int(rolled_row["spend_cents"]),
            )
    recent = [d for d in days if d not in seen and timedelta(0) <= today - d < timedelta(days=COUNTER_DAYS)]
    if recent:
        keys = [k for d in recent for k in counter_keys(ad_id, d)]
        values = await redis.mget(keys)
        for index, d in enumerate(recent):
            imps, clicks_n, spend_m = (int(v or 0) for v in values[index * 3 : index * 3 + 3])
            per_day[d].update(
                impressions=imps,
                clicks=clicks_n,
                spend_cents=min(round_half_up(Decimal(spend_m) / 1000), max(daily_budget_cents, 0)),
            )
    try:
        conversions = await repository.conversion_rows(session, warehouse, ad_id, r.start, r.end)
    except WarehouseError as exc:
        log.warning("analytics.warehouse_unavailable", adapter=warehouse.adapter, error=str(exc)[:300])
        raise DependencyError("warehouse") from None
    for row in conversions:
        d = date.fromisoformat(str(row["day"]))
        if d in per_day:
            per_day[d]["conversions"] += _int(row["conversions"])
            per_day[d]["revenue_cents"] += _int(row["revenue_cents"])
    totals: dict[str, int] = defaultdict(int)
    for day_values in per_day.values():
        for key, value in day_values.items():
            totals[key] += value
    spend, clicks, imps, revenue = (
        totals["spend_cents"],
        totals["clicks"],
        totals["impressions"],
        totals["revenue_cents"],
    )
    return {
        "metrics": {
            "impressions": imps,
            "clicks": clicks,
            "conversions": totals["conversions"],
            "spend_cents": spend,
            "revenue_cents": revenue,
            "roas": _ratio4(revenue, spend),
            "ctr": _ratio4(clicks, imps),
            "cpc_cents": _cents(spend, clicks),
            "cpm_cents": _cents(spend * 1000, imps),
        },
        "series": [{"date": d.isoformat(), **day_values} for d, day_values in per_day.items()],
    }
