"""Rebuild warehouse rows from Postgres: orders and their lines, payment intents, the ledger and the ad
rollups (`packfinderz analytics backfill`, for a warehouse added after the fact or after data loss).

Rows get the event ids the consumer gives them: the id of the outbox event they came from when the
outbox still holds it (kept 30 days), else a stable id in the analytics namespace. Either way every
dashboard query dedupes per order (and conversions per ad and order), so a row rebuilt next to the
consumer's own one never counts twice; re-running the backfill writes nothing new.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.analytics import rows
from packfinderz.kit.db import Database
from packfinderz.kit.warehouse import Warehouse
from packfinderz.kit.warehouse.base import Row

BATCH = 500
# Lines a cancel or an expiry released: they were part of the order when it was placed.
RELEASED_NOTES = frozenset({"order_canceled", "order_expired"})
ORDER_TYPES = ("order_retried", "cash_collected", "order_paid", "order_canceled", "order_expired")


def fallback_event_id(event_type: str, aggregate_id: uuid.UUID) -> uuid.UUID:
    """The stand-in envelope id of an event the outbox no longer holds."""
    return uuid.uuid5(rows.NS, f"{event_type}:{aggregate_id}")


async def _envelopes(
    session: AsyncSession, groups: list[uuid.UUID], orders: list[uuid.UUID]
) -> dict[tuple[str, uuid.UUID], uuid.UUID]:
    """(event type, aggregate id) → the first outbox event id of that kind still held."""
    found = await session.execute(
        text(
            "SELECT DISTINCT ON (event_type, aggregate_id) event_type, aggregate_id, id FROM outbox_events "
            "WHERE (aggregate_type = 'checkout_group' AND event_type = 'checkout_converted' "
            "       AND aggregate_id = ANY(:groups)) "
            "   OR (aggregate_type = 'vendor_order' AND event_type = ANY(:types) "
            "       AND aggregate_id = ANY(:orders)) "
            "ORDER BY event_type, aggregate_id, created_at, id"
        ),
        {"groups": groups, "orders": orders, "types": list(ORDER_TYPES)},
    )
    return {(r.event_type, r.aggregate_id): r.id for r in found}


async def _batch(
    session: AsyncSession, since: datetime | None, after: tuple[datetime, uuid.UUID] | None
) -> list[Any]:
    found = await session.execute(
        text(
            "SELECT o.id, o.checkout_group_id, o.buyer_store_id, o.vendor_store_id, o.status, "
            "o.payment_method, "
            "o.total_cents, o.balance_due_cents, o.ad_token, o.shipping_address, o.created_at, "
            "o.retry_of_order_id, o.canceled_at, o.expired_at, pi.cash_collected_at, pi.vendor_paid_at "
            "FROM vendor_orders o LEFT JOIN payment_intents pi ON pi.order_id = o.id "
            "WHERE (CAST(:since AS timestamptz) IS NULL OR o.created_at >= :since) "
            "AND (CAST(:after_at AS timestamptz) IS NULL OR (o.created_at, o.id) > (:after_at, :after_id)) "
            "ORDER BY o.created_at, o.id LIMIT :limit"
        ),
        {
            "since": since,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": BATCH,
        },
    )
    return list(found)


async def order_rows(session: AsyncSession, orders: list[Any], secret: str) -> tuple[list[Row], list[Row]]:
    """Every row a batch of orders gives: created (+ conversions), revenue, termination."""
    ids = [o.id for o in orders]
    envelopes = await _envelopes(session, list({o.checkout_group_id for o in orders}), ids)
    lines: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    found = await session.execute(
        text(
            "SELECT order_id, product_id, name, category, classification, qty, moq, max_qty, "
            "unit_price_cents, line_subtotal_cents, total_cents AS line_total_cents, discount_cents, status, "
            "warnings, ad_token, notes "
            "FROM order_line_items WHERE order_id = ANY(:ids) ORDER BY order_id, position"
        ),
        {"ids": ids},
    )
    for line in found.mappings():
        item = {k: v for k, v in line.items() if k not in ("order_id", "notes")}
        if line["notes"] in RELEASED_NOTES:
            item["status"] = "pending"  # placed as such; released by the cancel or expiry
        lines[line["order_id"]].append(item)
    ledger = await session.execute(
        text("SELECT order_id, type, amount_cents, created_at FROM ledger_events WHERE order_id = ANY(:ids)"),
        {"ids": ids},
    )
    marketplace: list[Row] = []
    ads: list[Row] = []

    def envelope(event_type: str, aggregate_id: uuid.UUID) -> uuid.UUID:
        return envelopes.get((event_type, aggregate_id)) or fallback_event_id(event_type, aggregate_id)

    by_id = {o.id: o for o in orders}
    for o in orders:
        source = (
            envelope("order_retried", o.id)
            if o.retry_of_order_id
            else envelope("checkout_converted", o.checkout_group_id)
        )
        total = o.total_cents
        if o.canceled_at is not None or o.expired_at is not None:
            # Termination zeroed the totals; the order as placed is its released lines (apply_totals).
            live = [i for i in lines[o.id] if i["status"] != "rejected"]
            subtotal = sum(int(i["line_subtotal_cents"]) for i in live)
            total = subtotal - min(sum(int(i["discount_cents"]) for i in live), subtotal)
        order = {
            "order_id": o.id,
            "vendor_store_id": o.vendor_store_id,
            "status": o.status,
            "payment_method": o.payment_method,
            "total_cents": total,
            "balance_due_cents": o.balance_due_cents,
            "ad_token": o.ad_token,
        }
        common: dict[str, Any] = {
            "checkout_group_id": o.checkout_group_id,
            "buyer_store_id": o.buyer_store_id,
            "shipping_address": o.shipping_address,
            "secret": secret,
        }
        marketplace.append(
            rows.order_created_row(
                rows.order_event_id(source, o.id), o.created_at, order, lines[o.id], **common
            )
        )
        if not o.retry_of_order_id:
            ads.extend(rows.conversion_rows(source, o.created_at, order, lines[o.id], **common))
        for event_type, moment in (("order_canceled", o.canceled_at), ("order_expired", o.expired_at)):
            if moment is not None:
                marketplace.append(
                    rows.termination_row(
                        envelope(event_type, o.id),
                        event_type,
                        moment,
                        order_id=o.id,
                        buyer_store_id=o.buyer_store_id,
                        vendor_store_id=o.vendor_store_id,
                        checkout_group_id=o.checkout_group_id,
                        payload={"backfill": True},
                    )
                )
    for entry in ledger:
        o = by_id[entry.order_id]
        if entry.type == "cash_collected":
            event_type, moment = "cash_collected", o.cash_collected_at or entry.created_at
        elif entry.type == "vendor_payout":
            event_type, moment = "order_paid", o.vendor_paid_at or entry.created_at
        else:
            continue
        marketplace.append(
            rows.revenue_row(
                envelope(event_type, o.id),
                event_type,
                moment,
                order_id=o.id,
                buyer_store_id=o.buyer_store_id,
                vendor_store_id=o.vendor_store_id,
                amount_cents=int(entry.amount_cents),
                payload={"backfill": True},
            )
        )
    return marketplace, ads


async def charge_rows(session: AsyncSession, since: datetime | None) -> list[Row]:
    """`charge` rows of every ad rollup (when the ads tables exist)."""
    exists = await session.scalar(text("SELECT to_regclass('ad_daily_rollups') IS NOT NULL"))
    if not exists:
        return []
    found = await session.execute(
        text(
            "SELECT ad_id, vendor_store_id, day, impressions, clicks, spend_cents FROM ad_daily_rollups "
            "WHERE CAST(:since AS date) IS NULL OR day >= CAST(:since AS date) ORDER BY day, ad_id"
        ),
        {"since": since.date() if since else None},
    )
    return [
        rows.charge_row(
            r.ad_id,
            r.vendor_store_id,
            r.day,
            impressions=int(r.impressions),
            clicks=int(r.clicks),
            spend_cents=int(r.spend_cents),
        )
        for r in found
    ]


async def count_orders(db: Database, since: datetime | None) -> int:
    async with db.transaction() as session:
        total = await session.scalar(
            text(
                "SELECT count(*) FROM vendor_orders "
                "WHERE CAST(:since AS timestamptz) IS NULL OR created_at >= :since"
            ),
            {"since": since},
        )
    return int(total or 0)


async def backfill(
    db: Database,
    warehouse: Warehouse,
    secret: str,
    since: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Rebuild rows for orders created since `since` (all when None) in batches, one transaction each;
    returns counts of orders read and rows offered (rows already present are skipped by the writer)."""
    counts = {"orders": 0, "marketplace_rows": 0, "ad_rows": 0}
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with db.transaction() as session:
            orders = await _batch(session, since, after)
            if not orders:
                break
            marketplace, ads = await order_rows(session, orders, secret)
            await warehouse.write(session, marketplace, ads)
        after = (orders[-1].created_at, orders[-1].id)
        counts["orders"] += len(orders)
        counts["marketplace_rows"] += len(marketplace)
        counts["ad_rows"] += len(ads)
        if progress:
            progress(len(orders))
    async with db.transaction() as session:
        charges = await charge_rows(session, since)
        await warehouse.write(session, [], charges)
    counts["ad_rows"] += len(charges)
    return counts
