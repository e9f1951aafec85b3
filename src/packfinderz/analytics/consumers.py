"""The `analytics` consumer (platform.md §11.4): every handled event becomes warehouse rows.

Row ids are deterministic (rows.py), so a redelivered event writes nothing new: postgres skips the
existing `event_id`s, bigquery dedupes on `insertId` and its queries on `QUALIFY`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.analytics import rows
from packfinderz.config import Settings
from packfinderz.events.consumer import Consumer, Event, HandlerDeps, PermanentError, register_consumer
from packfinderz.events.registry import (
    AdDailyRollupReady,
    CashCollected,
    CheckoutConverted,
    OrderCanceled,
    OrderExpired,
    OrderPaid,
    OrderRetried,
)
from packfinderz.kit.warehouse import Warehouse, create_warehouse
from packfinderz.kit.warehouse.base import Row

log = structlog.get_logger("analytics")

HANDLED_TYPES = frozenset(
    {
        "checkout_converted",
        "order_retried",
        "cash_collected",
        "order_paid",
        "order_canceled",
        "order_expired",
        "ad_daily_rollup_ready",
    }
)
_WAREHOUSES: dict[tuple[Any, ...], Warehouse] = {}


def warehouse_for(settings: Settings) -> Warehouse:
    """One warehouse client per configuration, kept for the life of the process."""
    key = (
        settings.warehouse_adapter,
        settings.warehouse_pg_schema,
        settings.gcp_project_id,
        settings.bigquery_api_endpoint,
        settings.bigquery_dataset,
        settings.bigquery_marketplace_table,
        settings.bigquery_ad_table,
    )
    found = _WAREHOUSES.get(key)
    if found is None:
        found = _WAREHOUSES[key] = create_warehouse(settings)
    return found


def checkout_rows(event_id: uuid.UUID, data: CheckoutConverted, secret: str) -> tuple[list[Row], list[Row]]:
    """`order_created` per vendor order of the analytics slice, `conversion` per attributed token."""
    analytics: Mapping[str, Any] = data.analytics
    try:
        orders = list(analytics["vendor_orders"])
        items = list(analytics.get("items") or [])
        shipping = analytics.get("shipping_address")
        marketplace: list[Row] = []
        ads: list[Row] = []
        for order in orders:
            own_items = [i for i in items if str(i.get("order_id")) == str(order["order_id"])]
            common: dict[str, Any] = {
                "checkout_group_id": data.checkout_group_id,
                "buyer_store_id": data.buyer_store_id,
                "shipping_address": shipping,
                "secret": secret,
            }
            marketplace.append(
                rows.order_created_row(
                    rows.order_event_id(event_id, order["order_id"]),
                    data.converted_at,
                    order,
                    own_items,
                    **common,
                )
            )
            ads.extend(rows.conversion_rows(event_id, data.converted_at, order, own_items, **common))
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(
            f"checkout_converted analytics slice malformed: {type(exc).__name__} {exc}"
        ) from None
    return marketplace, ads


async def retried_row(
    session: AsyncSession, event_id: uuid.UUID, data: OrderRetried, secret: str
) -> Row | None:
    """The new order's `order_created` row, read from Postgres (the event carries only ids)."""
    found = await session.execute(
        text(
            "SELECT id AS order_id, vendor_store_id, status, payment_method, total_cents, balance_due_cents, "
            "ad_token, shipping_address, created_at, retry_of_order_id FROM vendor_orders WHERE id = :id"
        ),
        {"id": data.order_id},
    )
    order = found.mappings().first()
    if order is None:
        return None
    lines = await session.execute(
        text(
            "SELECT product_id, name, category, classification, qty, moq, max_qty, unit_price_cents, "
            "line_subtotal_cents, total_cents AS line_total_cents, discount_cents, status, warnings, "
            "ad_token "
            "FROM order_line_items WHERE order_id = :id ORDER BY position"
        ),
        {"id": data.order_id},
    )
    slice_ = {k: v for k, v in order.items() if k not in ("shipping_address", "created_at")}
    return rows.order_created_row(
        rows.order_event_id(event_id, data.order_id),
        order["created_at"],
        slice_,
        [dict(line) for line in lines.mappings()],
        checkout_group_id=data.checkout_group_id,
        buyer_store_id=data.buyer_store_id,
        shipping_address=order["shipping_address"],
        secret=secret,
    )


def _payload(data: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = data.model_dump(mode="json")
    return dumped


async def event_rows(session: AsyncSession, event: Event, secret: str) -> tuple[list[Row], list[Row]]:
    """The (marketplace, ad) rows of one event."""
    data = event.data
    if isinstance(data, CheckoutConverted):
        return checkout_rows(event.event_id, data, secret)
    if isinstance(data, OrderRetried):
        row = await retried_row(session, event.event_id, data, secret)
        if row is None:
            raise PermanentError("retried order not found")
        return [row], []
    if isinstance(data, CashCollected | OrderPaid):
        moment: datetime = data.cash_collected_at if isinstance(data, CashCollected) else data.vendor_paid_at
        return [
            rows.revenue_row(
                event.event_id,
                event.event_type,
                moment,
                order_id=data.order_id,
                buyer_store_id=data.buyer_store_id,
                vendor_store_id=data.vendor_store_id,
                amount_cents=data.amount_cents,
                payload=_payload(data),
            )
        ], []
    if isinstance(data, OrderCanceled | OrderExpired):
        ended: datetime = data.canceled_at if isinstance(data, OrderCanceled) else data.expired_at
        return [
            rows.termination_row(
                event.event_id,
                event.event_type,
                ended,
                order_id=data.order_id,
                buyer_store_id=data.buyer_store_id,
                vendor_store_id=data.vendor_store_id,
                checkout_group_id=data.checkout_group_id,
                payload=_payload(data),
            )
        ], []
    if isinstance(data, AdDailyRollupReady):
        return [], [
            rows.charge_row(
                data.ad_id,
                data.vendor_store_id,
                data.day,
                impressions=data.impressions,
                clicks=data.clicks,
                spend_cents=data.spend_cents,
            )
        ]
    raise PermanentError(f"unhandled event type {event.event_type}")


async def handle(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
    """Write the event's rows in one call (postgres: this transaction; bigquery: streaming inserts)."""
    marketplace, ads = await event_rows(session, event, deps.settings.effective_ads_token_secret)
    await warehouse_for(deps.settings).write(session, marketplace, ads)
    log.debug(
        "analytics.rows_written", marketplace=len(marketplace), ads=len(ads), event_type=event.event_type
    )


CONSUMER = register_consumer(
    Consumer(
        name="analytics",
        topics=("orders", "notifications", "billing", "analytics"),
        event_types=HANDLED_TYPES,
        handler=handle,
    )
)
