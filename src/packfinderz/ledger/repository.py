"""Ledger and payout SQL. Ledger rows are only ever inserted (a trigger rejects UPDATE and DELETE)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_asc
from packfinderz.models.ledger import LedgerEvent
from packfinderz.models.orders import PaymentIntent, VendorOrder


async def append(
    session: AsyncSession,
    order: VendorOrder,
    *,
    type_: str,
    amount_cents: int,
    actor_user_id: uuid.UUID,
    details: dict[str, Any],
) -> uuid.UUID:
    """Insert one ledger row for the order (both parties and the actor recorded); its id.

    The partial unique index (order_id, type) makes a second cash collection or payout of the same
    order fail loudly instead of counting money twice.
    """
    ledger_id: uuid.UUID = (
        await session.execute(
            insert(LedgerEvent)
            .values(
                order_id=order.id,
                buyer_store_id=order.buyer_store_id,
                vendor_store_id=order.vendor_store_id,
                actor_user_id=actor_user_id,
                type=type_,
                amount_cents=amount_cents,
                details=details,
            )
            .returning(LedgerEvent.id)
        )
    ).scalar_one()
    return ledger_id


async def payout_page(session: AsyncSession, page: PageParams) -> list[Any]:
    """Delivered, settled orders awaiting payout, oldest delivery first (one page + 1 row)."""
    query = (
        select(
            VendorOrder.id,
            VendorOrder.order_number,
            VendorOrder.vendor_store_id,
            VendorOrder.delivered_at,
            PaymentIntent.amount_cents,
        )
        .join(PaymentIntent, PaymentIntent.order_id == VendorOrder.id)
        .where(VendorOrder.status == "delivered", PaymentIntent.status == "settled")
    )
    after = after_cursor_asc(VendorOrder.delivered_at, VendorOrder.id, page.cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(VendorOrder.delivered_at.asc(), VendorOrder.id.asc()).limit(page.limit + 1)
    return list((await session.execute(query)).all())
