"""Vendor payouts (commerce.md §10): the admin queue, its detail and the confirmation.

Money is gross: the payout equals the cash collected (no commission). Confirming writes exactly one
`vendor_payout` ledger row in the same transaction as the intent and order state change.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import AuthContext
from packfinderz.kit.errors import StateConflict
from packfinderz.kit.pagination import Page, PageParams, build_page
from packfinderz.ledger import repository
from packfinderz.ledger.schemas import PayoutItem
from packfinderz.orders import lifecycle
from packfinderz.orders import repository as orders_repository
from packfinderz.orders import service as orders
from packfinderz.orders.schemas import ActionResult, OrderDetail


async def payout_queue(session: AsyncSession, page: PageParams) -> Page[PayoutItem]:
    """Delivered, settled, unpaid orders, oldest delivery first."""
    rows = await repository.payout_page(session, page)
    items, next_cursor = build_page(rows, page.limit, sort_attr="delivered_at")
    return Page(
        items=[
            PayoutItem(
                order_id=row.id,
                order_number=row.order_number,
                vendor_store_id=row.vendor_store_id,
                amount_cents=row.amount_cents,
                delivered_at=row.delivered_at,
            )
            for row in items
        ],
        next_cursor=next_cursor,
    )


async def payout_detail(session: AsyncSession, order_id: uuid.UUID) -> OrderDetail:
    """OrderDetail of an order awaiting payout; any other order answers 422."""
    order = await orders.found_order(session, order_id)
    intent = await orders_repository.intent_of(session, order.id)
    if order.status != "delivered" or intent is None or intent.status != "settled":
        raise StateConflict(
            "order is not awaiting payout",
            details={"status": order.status, "payment_status": intent.status if intent else None},
        )
    return await orders.order_detail(session, order)


async def confirm_payout(session: AsyncSession, admin: AuthContext, order_id: uuid.UUID) -> ActionResult:
    """Pay the vendor: intent paid, order closed, one `vendor_payout` ledger row, `order_paid` emitted."""
    return await lifecycle.close_paid(session, order_id, admin.actor())
