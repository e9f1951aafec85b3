"""Orders as read (commerce.md §8): details, lists, storefront totals, and the buyer's nudge.

Every transition of an order (vendor decisions, cancel, retry, expiry, pickup, delivery, cash, payout)
lives in `orders.lifecycle`, the one owner of order state.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import StoreCtx
from packfinderz.events.outbox import emit
from packfinderz.events.registry import NotificationRequested
from packfinderz.kit.errors import NotFound, RateLimited, ValidationFailed
from packfinderz.kit.pagination import Page, PageParams, build_page
from packfinderz.kit.schemas import address_of
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import Store, User
from packfinderz.models.orders import VendorOrder
from packfinderz.orders import lifecycle, repository
from packfinderz.orders.repository import OrderFilters, Scope
from packfinderz.orders.schemas import (
    AgentName,
    AssignmentDTO,
    BuyerOrderSummary,
    LineItemDTO,
    ManifestRef,
    OrderDetail,
    OrderDTO,
    OrderRef,
    PartyStore,
    PaymentIntentDTO,
    StoreCard,
    StorefrontTotals,
    VendorOrderSummary,
)

NUDGE_INTERVAL = timedelta(hours=24)

# --- reads ------------------------------------------------------------------------------------------


async def found_order(session: AsyncSession, order_id: uuid.UUID) -> VendorOrder:
    """The order (unlocked); 404 when it does not exist."""
    order = await repository.get_order(session, order_id)
    if order is None:
        raise NotFound("order not found")
    return order


def store_card(store: Store) -> StoreCard:
    return StoreCard(
        id=store.id, company_name=store.company_name, dba_name=store.dba_name, logo_url=store.logo_url
    )


def party(store: Store) -> PartyStore:
    return PartyStore(**store_card(store).model_dump(), address=address_of(store), phone=store.phone)


def assignment_dto(assignment: OrderAssignment, agent: User) -> AssignmentDTO:
    return AssignmentDTO.model_validate(
        {
            **{c: getattr(assignment, c) for c in AssignmentDTO.model_fields if c != "agent"},
            "agent": AgentName(user_id=agent.id, first_name=agent.first_name, last_name=agent.last_name),
        }
    )


async def order_detail(session: AsyncSession, order: VendorOrder) -> OrderDetail:
    """Everything about one order, in a fixed handful of statements."""
    lines = await repository.lines_of(session, order.id)
    intent = await repository.intent_of(session, order.id)
    parties = await repository.stores(session, {order.buyer_store_id, order.vendor_store_id})
    assigned = await repository.active_assignment(session, order.id)
    manifest = None
    if order.manifest_media_id is not None and order.manifest_generated_at is not None:
        manifest = ManifestRef(media_id=order.manifest_media_id, generated_at=order.manifest_generated_at)
    return OrderDetail(
        order=OrderDTO.model_validate(order, from_attributes=True),
        line_items=[LineItemDTO.model_validate(line, from_attributes=True) for line in lines],
        payment_intent=PaymentIntentDTO.model_validate(intent, from_attributes=True) if intent else None,
        buyer_store=party(parties[order.buyer_store_id]),
        vendor_store=party(parties[order.vendor_store_id]),
        active_assignment=assignment_dto(*assigned) if assigned else None,
        manifest=manifest,
    )


def _card(row: Any, prefix: str) -> dict[str, Any]:
    return {
        "id": getattr(row, f"{prefix}_id"),
        "company_name": getattr(row, f"{prefix}_company_name"),
        "dba_name": getattr(row, f"{prefix}_dba_name"),
        "logo_url": getattr(row, f"{prefix}_logo_url"),
    }


def _summary_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_number": row.order_number,
        "created_at": row.created_at,
        "status": row.status,
        "total_cents": row.total_cents,
        "discounts_cents": row.discounts_cents,
        "total_items": int(row.total_items),
        "payment_status": row.payment_status,
        "fulfillment_status": row.fulfillment_status,
        "shipping_status": row.shipping_status,
    }


def _store_summary(row: Any, perspective: str) -> BuyerOrderSummary | VendorOrderSummary:
    if perspective == "buyer":
        return BuyerOrderSummary(**_summary_fields(row), vendor=StoreCard(**_card(row, "party")))
    return VendorOrderSummary(**_summary_fields(row), buyer=StoreCard(**_card(row, "party")))


async def _page(
    session: AsyncSession, scope: Scope, filters: OrderFilters, page: PageParams
) -> Page[BuyerOrderSummary | VendorOrderSummary]:
    rows = await repository.store_orders_page(session, scope, filters, page)
    items, next_cursor = build_page(rows, page.limit)
    total = await repository.store_orders_count(session, scope, filters)
    return Page(
        items=[_store_summary(row, scope.perspective) for row in items], next_cursor=next_cursor, total=total
    )


async def list_orders(
    session: AsyncSession, ctx: StoreCtx, filters: OrderFilters, page: PageParams
) -> Page[BuyerOrderSummary | VendorOrderSummary]:
    """The active store's orders from its own perspective (buyer or vendor), newest first, with total."""
    if filters.statuses is not None and ctx.store_type != "vendor":
        raise ValidationFailed(details={"actionable_statuses": "is for vendor stores only"})
    return await _page(session, Scope(ctx.store_type, ctx.store_id), filters, page)


async def store_order(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID) -> OrderDetail:
    """OrderDetail for the buyer or the vendor of the order (another store → 403)."""
    order = await found_order(session, order_id)
    lifecycle.require_party(order, ctx)
    return await order_detail(session, order)


async def _storefront_vendor(session: AsyncSession, store_id: uuid.UUID) -> Store:
    found = (await repository.stores(session, {store_id})).get(store_id)
    if found is None:
        raise NotFound("store not found")
    if found.type != "vendor":
        raise ValidationFailed(details={"store_id": "is not a vendor store"})
    return found


async def storefront_orders(
    session: AsyncSession, ctx: StoreCtx, vendor_store_id: uuid.UUID, page: PageParams
) -> Page[BuyerOrderSummary | VendorOrderSummary]:
    """The active buyer's orders with one vendor, newest first, with total."""
    await _storefront_vendor(session, vendor_store_id)
    return await _page(session, Scope("buyer", ctx.store_id, vendor_store_id), OrderFilters(), page)


async def storefront_totals(
    session: AsyncSession, ctx: StoreCtx, vendor_store_id: uuid.UUID
) -> StorefrontTotals:
    """Counts and sums over every order (any status) between the active buyer and one vendor."""
    await _storefront_vendor(session, vendor_store_id)
    orders, items, spent, discounts = await repository.storefront_totals(
        session, ctx.store_id, vendor_store_id
    )
    return StorefrontTotals(
        total_orders=orders, total_items=items, total_spent_cents=spent, total_discounts_cents=discounts
    )


# --- buyer actions that change no state ---------------------------------------------------------


async def nudge(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID) -> OrderRef:
    """Ask the vendor to act on the order (a notification); refused once it left the vendor's hands."""
    order = await lifecycle.locked_order(session, order_id)  # serializes nudges of one order
    lifecycle.require_buyer(order, ctx)
    if order.status in lifecycle.NOT_NUDGEABLE:
        raise lifecycle.refuse(order, "nudge")
    now = datetime.now(UTC)
    if order.last_nudged_at is not None and now < order.last_nudged_at + NUDGE_INTERVAL:
        # One manual nudge per order per 24 hours (issue #17): ten clicks are not ten notifications.
        wait = math.ceil((order.last_nudged_at + NUDGE_INTERVAL - now).total_seconds())
        raise RateLimited(
            "order already nudged in the last 24 hours", headers={"Retry-After": str(max(wait, 1))}
        )
    order.last_nudged_at = now
    await emit(session, NotificationRequested(**lifecycle.order_ids(order)), actor=ctx.actor())
    return OrderRef(order_id=order.id)
