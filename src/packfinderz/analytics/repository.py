"""Dashboard queries over the warehouse, written once for both dialects (money-ads-analytics.md §3.4).

Every query dedupes in SQL: one `order_created` row per order, and for revenue the earliest revenue
row per order over all time (`DISTINCT ON` in postgres, `QUALIFY ROW_NUMBER()` in bigquery, where the
base tables are also deduped on `event_id` since `insertId` is best effort); the range filter applies
after the revenue dedupe. The marketplace report is a single round trip: its parts are tagged rows of
one `UNION ALL`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.warehouse import Warehouse
from packfinderz.kit.warehouse.base import Dialect, Row

Perspective = Literal["vendor", "buyer"]
TOP_LIMIT = 5
_UNITS = {"hour": ("hour", "HOUR"), "day": ("day", "DAY"), "week": ("week", "ISOWEEK")}


@dataclass(frozen=True)
class SqlDialect:
    """The few places where postgres and bigquery SQL differ."""

    name: Dialect

    def trunc(self, column: str, bucket: str) -> str:
        pg, bq = _UNITS[bucket]
        if self.name == "postgres":
            return f"date_trunc('{pg}', {column}, CAST(:tz AS text))"
        return f"TIMESTAMP_TRUNC({column}, {bq}, :tz)"

    def table(self, table: str, where: str) -> str:
        """`table` filtered by `where`; bigquery keeps one row per `event_id`."""
        if self.name == "postgres":
            return f"(SELECT * FROM {table} WHERE {where})"
        return f"(SELECT * FROM {table} WHERE {where} QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id) = 1)"

    def first_per(self, key: str, columns: str, source: str) -> str:
        """One row per `key`: the earliest (occurred_at, event_id)."""
        if self.name == "postgres":
            order = f"{key}, occurred_at, event_id"
            return f"SELECT DISTINCT ON ({key}) {columns} FROM {source} AS s ORDER BY {order}"
        return (
            f"SELECT {columns} FROM {source} AS s WHERE TRUE "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY occurred_at, event_id) = 1"
        )

    def id_param(self, name: str) -> str:
        return f":{name}" if self.name == "bigquery" else f"CAST(:{name} AS uuid)"

    def items(self, source: str) -> str:
        """One row per item of `source`'s `items` JSON array, as `item`."""
        if self.name == "postgres":
            items = f"coalesce({source}.items, '[]'::jsonb)"
            return f"{source} CROSS JOIN LATERAL jsonb_array_elements({items}) AS item"
        return f"{source} CROSS JOIN UNNEST(JSON_QUERY_ARRAY({source}.items)) AS item"

    def item_text(self, key: str) -> str:
        if self.name == "postgres":
            return f"(item ->> '{key}')"
        return f"JSON_VALUE(item, '$.{key}')"

    def item_int(self, key: str) -> str:
        if self.name == "postgres":
            return f"coalesce((item ->> '{key}')::bigint, 0)"
        return f"COALESCE(CAST(JSON_VALUE(item, '$.{key}') AS INT64), 0)"

    def null(self, kind: Literal["ts", "text", "int"]) -> str:
        pg = {"ts": "timestamptz", "text": "text", "int": "bigint"}
        bq = {"ts": "TIMESTAMP", "text": "STRING", "int": "INT64"}
        return f"CAST(NULL AS {(pg if self.name == 'postgres' else bq)[kind]})"

    def count_if(self, condition: str) -> str:
        if self.name == "postgres":
            return f"count(*) FILTER (WHERE {condition})"
        return f"COUNTIF({condition})"

    def text_of(self, column: str) -> str:
        return f"CAST({column} AS {'text' if self.name == 'postgres' else 'STRING'})"


def marketplace_sql(
    warehouse: Warehouse, perspective: Perspective, bucket: str, *, marketplace: bool = False
) -> str:
    """Every part of the report as rows `(part, bucket, id, label, a, b, c)`."""
    d = SqlDialect(warehouse.dialect)
    scope, other = (
        ("vendor_store_id", "buyer_store_id")
        if perspective == "vendor"
        else ("buyer_store_id", "vendor_store_id")
    )
    table = warehouse.marketplace_table
    # `marketplace`: every store (the operator console); otherwise one store's side of its orders.
    store = d.id_param("store")
    own = "TRUE" if marketplace else f"{scope} = {store}"
    created_src = d.table(
        table,
        f"{own} AND event_type = 'order_created' AND occurred_at >= :start AND occurred_at < :end",
    )
    created = d.first_per(
        "order_id",
        "order_id, occurred_at, discounts_cents, gross_revenue_cents, buyer_zip, items",
        created_src,
    )
    revenue_src = d.table(
        table, f"{own} AND event_type IN ('cash_collected', 'order_paid') AND occurred_at < :end"
    )
    revenue = d.first_per(
        "order_id",
        f"order_id, occurred_at, gross_revenue_cents, net_revenue_cents, {other} AS counterparty",
        revenue_src,
    )
    terminated_src = d.table(
        table,
        f"{own} AND event_type IN ('order_canceled', 'order_expired') "
        "AND occurred_at >= :start AND occurred_at < :end",
    )
    nts, ntext, nint = d.null("ts"), d.null("text"), d.null("int")
    # Each item's JSON is read once, into plain columns the top lists group on.
    lines_cte = (
        f"SELECT {d.item_text('product_id')} AS product_id, {d.item_text('title')} AS title, "
        f"{d.item_text('category')} AS category, {d.item_text('classification')} AS classification, "
        f"{d.item_int('line_total_cents')} AS line_total FROM {d.items('created')} "
        f"WHERE COALESCE({d.item_text('status')}, '') <> 'rejected'"
    )

    def top(part: str, label: str, value: str, *, source: str, ident: str | None = None) -> str:
        groups = f"{ident}, {label}" if ident else label
        return (
            f"SELECT '{part}' AS part, {ident or ntext} AS id, {label} AS label, SUM({value}) AS value "
            f"FROM {source} WHERE {label} IS NOT NULL GROUP BY {groups}"
        )

    tops = " UNION ALL ".join(
        [
            top("top_products", "title", "line_total", source="lines", ident="product_id"),
            top("top_categories", "category", "line_total", source="lines"),
            top("top_classifications", "classification", "line_total", source="lines"),
            top("top_zips", "buyer_zip", "gross_revenue_cents", source="created"),
        ]
    )
    created_bucket = d.trunc("occurred_at", bucket)
    revenue_bucket = d.trunc("occurred_at", bucket)
    return f"""
WITH created AS ({created}),
lines AS ({lines_cte}),
revenue AS ({revenue}),
customers AS (
  SELECT counterparty, MIN(occurred_at) AS first_at, MAX(occurred_at) AS last_at
  FROM revenue WHERE counterparty IS NOT NULL GROUP BY counterparty
),
tops AS ({tops}),
ranked AS (
  SELECT part, id, label, value,
         ROW_NUMBER() OVER (PARTITION BY part ORDER BY value DESC, label, id) AS position
  FROM tops
)
SELECT 'created' AS part, {created_bucket} AS bucket, {ntext} AS id, {ntext} AS label,
       COUNT(*) AS a, SUM(discounts_cents) AS b, {nint} AS c
FROM created GROUP BY 2
UNION ALL
SELECT 'revenue', {revenue_bucket}, {ntext}, {ntext},
       COUNT(*), SUM(gross_revenue_cents), SUM(net_revenue_cents)
FROM revenue WHERE occurred_at >= :start GROUP BY 2
UNION ALL
SELECT 'terminated', {nts}, {ntext}, {ntext}, COUNT(DISTINCT order_id), {nint}, {nint}
FROM {terminated_src} AS t
UNION ALL
SELECT 'customers', {nts}, {ntext}, {ntext},
       {d.count_if("first_at >= :start")}, {d.count_if("first_at < :start")}, {nint}
FROM customers WHERE last_at >= :start
UNION ALL
SELECT part, {nts}, id, label, value, {nint}, {nint} FROM ranked WHERE position <= {TOP_LIMIT}
"""


async def marketplace_rows(
    session: AsyncSession,
    warehouse: Warehouse,
    perspective: Perspective,
    store_id: uuid.UUID | None,
    *,
    start: datetime,
    end: datetime,
    bucket: str,
    tz: str,
) -> list[Row]:
    """The tagged rows of one store's report over `[start, end)`; every store's when `store_id` is None
    (the marketplace as a whole, seen from the vendor side: customers are buyer stores)."""
    params: dict[str, Any] = {"start": start, "end": end, "tz": tz}
    if store_id is not None:
        params["store"] = str(store_id) if warehouse.dialect == "bigquery" else store_id
    sql = marketplace_sql(warehouse, perspective, bucket, marketplace=store_id is None)
    return await warehouse.fetch(session, sql, params)


def top_vendors_sql(warehouse: Warehouse) -> str:
    """Vendor stores by gross revenue of the orders created in `[start, end)`, best first."""
    d = SqlDialect(warehouse.dialect)
    created = d.first_per(
        "order_id",
        "order_id, vendor_store_id, gross_revenue_cents",
        d.table(
            warehouse.marketplace_table,
            "event_type = 'order_created' AND occurred_at >= :start AND occurred_at < :end",
        ),
    )
    return (
        f"SELECT {d.text_of('vendor_store_id')} AS id, COUNT(*) AS orders, "
        f"SUM(gross_revenue_cents) AS value FROM ({created}) AS created "
        f"WHERE vendor_store_id IS NOT NULL GROUP BY vendor_store_id "
        f"ORDER BY value DESC, id LIMIT {TOP_LIMIT}"
    )


async def top_vendor_rows(
    session: AsyncSession, warehouse: Warehouse, *, start: datetime, end: datetime
) -> list[Row]:
    """`(id, orders, value)` of the marketplace's top vendors over `[start, end)`."""
    return await warehouse.fetch(session, top_vendors_sql(warehouse), {"start": start, "end": end})


def conversions_sql(warehouse: Warehouse) -> str:
    """An ad's conversions per UTC day: distinct attributed orders (earliest row) and their revenue."""
    d = SqlDialect(warehouse.dialect)
    source = d.table(
        warehouse.ad_table,
        f"ad_id = {d.id_param('ad')} AND type = 'conversion' "
        "AND occurred_at >= :start AND occurred_at < :end",
    )
    first = d.first_per("attributed_order_id", "attributed_order_id, occurred_at, revenue_cents", source)
    day = (
        d.text_of("DATE(occurred_at)")
        if d.name == "bigquery"
        else "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    return (
        f"SELECT {day} AS day, COUNT(*) AS conversions, SUM(revenue_cents) AS revenue_cents "
        f"FROM ({first}) AS c GROUP BY {day}"
    )


async def conversion_rows(
    session: AsyncSession, warehouse: Warehouse, ad_id: uuid.UUID, start: datetime, end: datetime
) -> list[Row]:
    """[{day: 'YYYY-MM-DD', conversions, revenue_cents}] of an ad over `[start, end)`."""
    params: dict[str, Any] = {
        "ad": str(ad_id) if warehouse.dialect == "bigquery" else ad_id,
        "start": start,
        "end": end,
    }
    return await warehouse.fetch(session, conversions_sql(warehouse), params)
