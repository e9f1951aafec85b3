"""The vendor order lifecycle (commerce.md §8): reads, vendor decisions, buyer actions, expiry.

Every mutation locks the order row first and re-checks its status, so concurrent actions serialize per
order; a transition not in commerce.md's tables answers 422 STATE_CONFLICT before anything is written,
and repeating a transition already reached answers 200 without side effects. Stock moves only through
a line's own status transition (see repository.reject_lines), so it moves exactly once.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog import repository as inventory
from packfinderz.catalog.service import reserve_stock
from packfinderz.checkout import repository as checkout_repository
from packfinderz.checkout.schemas import PaymentIntentDTO
from packfinderz.events.outbox import Actor, emit
from packfinderz.events.registry import (
    NotificationRequested,
    OrderCanceled,
    OrderDecided,
    OrderExpired,
    OrderPendingNudge,
    OrderReadyForDispatch,
    OrderRetried,
)
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, RateLimited, StateConflict, ValidationFailed
from packfinderz.kit.pagination import Page, PageParams, build_page
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import Store, User
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.orders import repository
from packfinderz.orders.repository import OrderFilters, Scope
from packfinderz.orders.schemas import (
    ActionResult,
    AgentName,
    AssignmentDTO,
    BuyerOrderSummary,
    CancelIn,
    LineDecisionIn,
    LineItemDTO,
    ManifestRef,
    OrderDetail,
    OrderDTO,
    OrderRef,
    PartyStore,
    StoreCard,
    StorefrontTotals,
    VendorOrderSummary,
)
from packfinderz.stores.schemas import Address
from packfinderz.stores.service import delivery_refusal, vendor_visible_to_buyer

log = structlog.get_logger("orders")

ORDER_TRANSITIONS = Counter(
    "packfinderz_order_transitions_total", "Vendor order status transitions", ["from", "to"]
)

LINE_DECIDABLE = frozenset({"created_pending", "accepted", "partially_accepted"})
CANCELABLE = LINE_DECIDABLE | {"ready_for_dispatch", "fulfilled", "hold_for_pickup"}
DISPATCHABLE = frozenset(repository.DISPATCHABLE)
TERMINAL = frozenset({"rejected", "canceled", "expired", "closed"})
NOT_NUDGEABLE = TERMINAL | {"in_transit", "delivered"}
NUDGE_INTERVAL = timedelta(hours=24)
NO_BALANCE = frozenset({"rejected", "canceled", "expired"})
OPEN_INTENT = frozenset({"unpaid", "pending"})
SETTLED_INTENT = frozenset({"settled", "paid"})
NUDGE_AFTER = timedelta(days=5)
EXPIRE_AFTER = timedelta(days=10)


# --- shared helpers (also used by delivery and payouts) -------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def order_ids(order: VendorOrder) -> dict[str, uuid.UUID]:
    """The four ids every order event carries."""
    return {
        "order_id": order.id,
        "checkout_group_id": order.checkout_group_id,
        "buyer_store_id": order.buyer_store_id,
        "vendor_store_id": order.vendor_store_id,
    }


def set_status(order: VendorOrder, status: str) -> None:
    """Move the (locked) order to a new status and count the transition."""
    ORDER_TRANSITIONS.labels(order.status, status).inc()
    order.status = status


async def locked_order(session: AsyncSession, order_id: uuid.UUID) -> VendorOrder:
    """The order, locked FOR UPDATE; 404 when it does not exist."""
    order = await repository.get_order(session, order_id, lock=True)
    if order is None:
        raise NotFound("order not found")
    return order


async def found_order(session: AsyncSession, order_id: uuid.UUID) -> VendorOrder:
    """The order (unlocked); 404 when it does not exist."""
    order = await repository.get_order(session, order_id)
    if order is None:
        raise NotFound("order not found")
    return order


def require_party(order: VendorOrder, ctx: StoreCtx) -> None:
    """Another store's order does not exist for the caller (404, issue #17)."""
    if ctx.store_id not in (order.buyer_store_id, order.vendor_store_id):
        raise NotFound("order not found")


def require_buyer(order: VendorOrder, ctx: StoreCtx) -> None:
    """404 for a stranger; 403 for the vendor, who may see the order but not act as its buyer."""
    require_party(order, ctx)
    if order.buyer_store_id != ctx.store_id:
        raise Forbidden("only the buyer of this order may do this")


def require_vendor(order: VendorOrder, ctx: StoreCtx) -> None:
    """404 for a stranger; 403 for the buyer, who may see the order but not act as its vendor."""
    require_party(order, ctx)
    if order.vendor_store_id != ctx.store_id:
        raise Forbidden("only the vendor of this order may do this")


def refuse(order: VendorOrder, action: str) -> StateConflict:
    """The 422 for an action the order's status does not allow."""
    return StateConflict(f"cannot {action} an order that is {order.status}", details={"status": order.status})


def apply_totals(order: VendorOrder, lines: Sequence[OrderLineItem], intent: PaymentIntent | None) -> None:
    """Recompute totals and balance from the live lines (commerce.md §8.3); an open intent follows."""
    live = [line for line in lines if line.status != "rejected"]
    subtotal = sum(line.line_subtotal_cents for line in live)
    discounts = min(sum(line.discount_cents for line in live), subtotal)
    order.subtotal_cents = subtotal
    order.discounts_cents = discounts
    order.total_cents = subtotal - discounts + order.tax_cents + order.transport_fee_cents
    settled = intent is not None and intent.status in SETTLED_INTENT
    order.balance_due_cents = 0 if settled or order.status in NO_BALANCE else order.total_cents
    if intent is not None and intent.status in OPEN_INTENT:
        intent.amount_cents = order.total_cents


async def release_lines(
    session: AsyncSession,
    order: VendorOrder,
    reason: str | None,
    *,
    pending_only: bool,
    line_id: uuid.UUID | None = None,
) -> int:
    """Reject lines and return their reserved stock (exactly once); the number of lines rejected."""
    rejected = await repository.reject_lines(
        session, order.id, reason, line_id=line_id, pending_only=pending_only
    )
    quantities: dict[uuid.UUID, int] = {}
    for product_id, qty in rejected:
        if product_id is not None:  # a deleted product has no inventory row to return stock to
            quantities[product_id] = quantities.get(product_id, 0) + qty
    for product_id in await inventory.release(session, quantities):
        log.error("inventory.release_mismatch", order_id=str(order.id), product_id=str(product_id))
    return len(rejected)


def action_result(order: VendorOrder, intent: PaymentIntent | None) -> ActionResult:
    return ActionResult(
        order_id=order.id,
        status=order.status,
        payment_status=intent.status if intent else None,
        fulfillment_status=order.fulfillment_status,
        shipping_status=order.shipping_status,
        balance_due_cents=order.balance_due_cents,
    )


async def current_result(session: AsyncSession, order: VendorOrder) -> ActionResult:
    """The ActionResult of an order nothing was done to (a repeated transition)."""
    return action_result(order, await repository.intent_of(session, order.id))


async def record(
    session: AsyncSession, action: str, order: VendorOrder, actor: Actor | None, **payload: Any
) -> None:
    """Audit an order action (target `order`) in the action's transaction; null payload values dropped."""
    await audit.record(
        session,
        action=action,
        target_type="order",
        target_id=order.id,
        actor=actor,
        payload={k: v for k, v in payload.items() if v is not None},
    )


# --- reads ------------------------------------------------------------------------------------------


def store_card(store: Store) -> StoreCard:
    return StoreCard(
        id=store.id, company_name=store.company_name, dba_name=store.dba_name, logo_url=store.logo_url
    )


def address_of(store: Store) -> Address:
    return Address(
        line1=store.address_line1,
        line2=store.address_line2,
        city=store.address_city,
        state=store.address_state,
        postal_code=store.address_postal_code,
        country=store.address_country,
        lat=store.lat,
        lng=store.lng,
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
    require_party(order, ctx)
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


# --- vendor decisions ---------------------------------------------------------------------------------


async def decide(
    session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID, decision: Literal["accept", "reject"]
) -> ActionResult:
    """Accept or reject a pending order as a whole; rejecting releases every pending line's stock."""
    order = await locked_order(session, order_id)
    require_vendor(order, ctx)
    target = "accepted" if decision == "accept" else "rejected"
    if order.status == target:
        return await current_result(session, order)
    if order.status != "created_pending":
        raise refuse(order, decision)
    if decision == "reject":
        await release_lines(session, order, "order_rejected", pending_only=True)
    set_status(order, target)
    lines = await repository.lines_of(session, order.id)
    intent = await repository.intent_of(session, order.id, lock=True)
    apply_totals(order, lines, intent)
    await repository.flush(session)
    await emit(session, OrderDecided(**order_ids(order), decision=decision, status=target), actor=ctx.actor())
    await record(
        session, f"order.{target}", order, ctx.actor(), order_number=order.order_number, status=target
    )
    log.info(f"order.{target}", order_id=str(order.id))
    return action_result(order, intent)


def _status_after_lines(lines: Sequence[OrderLineItem]) -> tuple[str, str | None]:
    """(order status, fulfillment status once settled) implied by the lines after a line decision."""
    statuses = {line.status for line in lines}
    if "pending" in statuses:
        return ("partially_accepted" if "rejected" in statuses else "accepted"), None
    if "fulfilled" in statuses:
        return "ready_for_dispatch", ("partial" if "rejected" in statuses else "fulfilled")
    return "rejected", None


async def decide_line(
    session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID, body: LineDecisionIn
) -> ActionResult:
    """Fulfil (accept and pack) or reject one pending line; the last one settles the order."""
    order = await locked_order(session, order_id)
    require_vendor(order, ctx)
    line = await repository.get_line(session, body.line_item_id)
    if line is None:
        raise NotFound("line item not found")
    if line.order_id != order.id:
        raise NotFound("line item not found")  # another order's line: possibly another store's (issue #17)
    target = "fulfilled" if body.decision == "fulfill" else "rejected"
    if line.status == target:
        return await current_result(session, order)
    if line.status != "pending":
        raise StateConflict(f"line item is already {line.status}", details={"line_status": line.status})
    if order.status not in LINE_DECIDABLE:
        raise refuse(order, f"{body.decision} a line of")
    if target == "fulfilled":
        await repository.fulfill_line(session, line.id, body.notes)
    else:
        await release_lines(session, order, body.notes, pending_only=True, line_id=line.id)
    lines = await repository.lines_of(session, order.id)
    status, fulfillment = _status_after_lines(lines)
    if status != order.status:
        set_status(order, status)
    moment = now()
    if fulfillment is not None:
        order.fulfillment_status = fulfillment
        order.ready_at = order.fulfilled_at = moment
    intent = await repository.intent_of(session, order.id, lock=True)
    apply_totals(order, lines, intent)
    await repository.flush(session)
    rejected = [x for x in lines if x.status == "rejected"]
    if status == "ready_for_dispatch":
        await emit(
            session,
            OrderReadyForDispatch(
                **order_ids(order),
                vendor_store_ids=[order.vendor_store_id],
                fulfillment_status=order.fulfillment_status,
                shipping_status=order.shipping_status,
                rejected_item_count=len(rejected),
                resolved_line_item_id=line.id,
            ),
            actor=ctx.actor(),
        )
    elif status == "rejected":
        await emit(
            session, OrderDecided(**order_ids(order), decision="reject", status="rejected"), actor=ctx.actor()
        )
    await record(
        session,
        f"order.line_{target}",
        order,
        ctx.actor(),
        line_item_id=str(line.id),
        product_id=str(line.product_id) if line.product_id else None,
        qty=line.qty,
        notes=body.notes,
        order_status=order.status,
    )
    log.info(f"order.line_{target}", order_id=str(order.id), line_item_id=str(line.id), status=order.status)
    return action_result(order, intent)


# --- buyer actions -----------------------------------------------------------------------------------


async def cancel(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID, body: CancelIn) -> ActionResult:
    """Cancel before transit: every line's stock back, any assignment ended, balance 0."""
    order = await locked_order(session, order_id)
    require_buyer(order, ctx)
    if order.status == "canceled":
        return await current_result(session, order)
    if order.status not in CANCELABLE:
        raise refuse(order, "cancel")
    released = await release_lines(session, order, "order_canceled", pending_only=False)
    set_status(order, "canceled")
    order.canceled_at = now()
    lines = await repository.lines_of(session, order.id)
    intent = await repository.intent_of(session, order.id, lock=True)
    apply_totals(order, lines, intent)
    await repository.deactivate_assignment(session, order.id)
    await repository.flush(session)
    await emit(
        session,
        OrderCanceled(**order_ids(order), canceled_at=order.canceled_at, reason=body.reason),
        actor=ctx.actor(),
    )
    await record(session, "order.canceled", order, ctx.actor(), reason=body.reason, released_lines=released)
    log.info("order.canceled", order_id=str(order.id), released_lines=released)
    return action_result(order, intent)


async def nudge(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID) -> OrderRef:
    """Ask the vendor to act on the order (a notification); refused once it left the vendor's hands."""
    order = await locked_order(session, order_id)  # serializes nudges of one order
    require_buyer(order, ctx)
    if order.status in NOT_NUDGEABLE:
        raise refuse(order, "nudge")
    now = datetime.now(UTC)
    if order.last_nudged_at is not None and now < order.last_nudged_at + NUDGE_INTERVAL:
        # One manual nudge per order per 24 hours (issue #17): ten clicks are not ten notifications.
        wait = math.ceil((order.last_nudged_at + NUDGE_INTERVAL - now).total_seconds())
        raise RateLimited(
            "order already nudged in the last 24 hours", headers={"Retry-After": str(max(wait, 1))}
        )
    order.last_nudged_at = now
    await emit(session, NotificationRequested(**order_ids(order)), actor=ctx.actor())
    return OrderRef(order_id=order.id)


async def retry(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID) -> OrderRef:
    """Re-place an expired order as a new pending order with the same snapshot, reserving all of it."""
    order = await locked_order(session, order_id)
    require_buyer(order, ctx)
    if order.status != "expired":
        raise refuse(order, "retry")
    existing = await repository.retry_of(session, order.id)
    if existing is not None:
        raise Conflict("order already retried", details={"order_id": str(existing)})
    parties = await checkout_repository.parties(session, [order.buyer_store_id, order.vendor_store_id])
    buyer, buyer_licensed = parties[order.buyer_store_id]
    if buyer.kyc_status != "verified" or not buyer_licensed:
        raise Forbidden("buyer verification required")
    vendor, vendor_licensed = parties[order.vendor_store_id]
    if not vendor_licensed or not vendor_visible_to_buyer(vendor, buyer):
        raise NotFound("vendor not available")
    refusal = delivery_refusal(buyer, [vendor], order.shipping_address)
    if refusal is not None:  # the same rule as checkout, for the address copied from the expired order
        raise StateConflict(refusal.pop("message"), details=refusal)
    lines = await repository.lines_of(session, order.id)
    quantities: dict[uuid.UUID, int] = {}
    for line in lines:
        if line.product_id is None:
            raise Conflict("a product of this order no longer exists", details={"line_item_id": str(line.id)})
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.qty
    gone = set(quantities) - await repository.active_product_ids(session, quantities)
    if gone:
        raise Conflict(
            "some products are no longer available", details={"product_ids": sorted(map(str, gone))}
        )
    new = await repository.insert_order(
        session,
        {
            "cart_id": order.cart_id,
            "checkout_group_id": uuid.uuid4(),
            "buyer_store_id": order.buyer_store_id,
            "vendor_store_id": order.vendor_store_id,
            "shipping_address": order.shipping_address,
            "payment_method": order.payment_method,
            "shipping_line": order.shipping_line,
            "warnings": order.warnings,
            "promo": order.promo,
            "tax_cents": order.tax_cents,
            "transport_fee_cents": order.transport_fee_cents,
            "subtotal_cents": 0,
            "discounts_cents": 0,
            "total_cents": order.tax_cents + order.transport_fee_cents,
            "balance_due_cents": 0,
            "retry_of_order_id": order.id,
        },
    )
    await repository.insert_lines(session, [_copied_line(line, new.id) for line in lines])
    outcome = await reserve_stock(session, quantities)
    short = sorted(str(p) for p, reserved in outcome.items() if not reserved)
    if short:
        # The request's transaction rolls back: no order, no line, no reservation stays.
        raise Conflict("not enough stock to retry this order", details={"product_ids": short})
    intent_status = "pending" if new.payment_method == "ach" else "unpaid"
    apply_totals(new, await repository.lines_of(session, new.id), None)
    await repository.flush(session)
    await repository.insert_intent(
        session,
        {
            "order_id": new.id,
            "method": new.payment_method,
            "status": intent_status,
            "amount_cents": new.total_cents,
        },
    )
    await emit(session, OrderRetried(**order_ids(new), original_order_id=order.id), actor=ctx.actor())
    await record(session, "order.retried", order, ctx.actor(), new_order_id=str(new.id))
    log.info("order.retried", order_id=str(order.id), new_order_id=str(new.id))
    return OrderRef(order_id=new.id)


_SNAPSHOT = (
    "product_id",
    "cart_item_id",
    "position",
    "name",
    "sku",
    "category",
    "strain",
    "classification",
    "unit",
    "thumbnail",
    "moq",
    "max_qty",
    "unit_price_cents",
    "qty",
    "discount_cents",
    "line_subtotal_cents",
    "total_cents",
    "warnings",
    "applied_volume_discount",
    "ad_token",
)


def _copied_line(line: OrderLineItem, order_id: uuid.UUID) -> dict[str, Any]:
    return {
        **{column: getattr(line, column) for column in _SNAPSHOT},
        "id": uuid.uuid4(),
        "order_id": order_id,
        "status": "pending",
        "notes": None,
    }


# --- order TTL (cron) ---------------------------------------------------------------------------------


async def expire(session: AsyncSession, order_id: uuid.UUID, moment: datetime) -> bool:
    """Expire a pending order older than 10 days (its stock released); False when it no longer qualifies."""
    order = await repository.get_order(session, order_id, lock=True)
    if order is None or order.status != "created_pending" or order.created_at > moment - EXPIRE_AFTER:
        return False
    released = await release_lines(session, order, "order_expired", pending_only=True)
    set_status(order, "expired")
    order.expired_at = moment
    lines = await repository.lines_of(session, order.id)
    intent = await repository.intent_of(session, order.id, lock=True)
    apply_totals(order, lines, intent)
    await repository.flush(session)
    await emit(session, OrderExpired(**order_ids(order), expired_at=moment, ttl_days=EXPIRE_AFTER.days))
    await record(session, "order.expired", order, None, released_lines=released)
    log.info("order.expired", order_id=str(order.id), released_lines=released)
    return True


async def auto_nudge(session: AsyncSession, order_id: uuid.UUID, moment: datetime) -> bool:
    """The one automatic nudge of a pending order older than 5 days; False when not due or already sent."""
    order = await repository.get_order(session, order_id, lock=True)
    if order is None or order.status != "created_pending" or order.created_at > moment - NUDGE_AFTER:
        return False
    return await emit(
        session,
        OrderPendingNudge(**order_ids(order), pending_days=NUDGE_AFTER.days),
        dedupe_key=f"order_pending_nudge:{order.id}",
    )


def live_quantities(lines: Iterable[OrderLineItem], status: str) -> dict[uuid.UUID, int]:
    """Quantity per product over the lines in `status` (lines of deleted products left out)."""
    quantities: dict[uuid.UUID, int] = {}
    for line in lines:
        if line.status == status and line.product_id is not None:
            quantities[line.product_id] = quantities.get(line.product_id, 0) + line.qty
    return quantities
