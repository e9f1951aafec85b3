"""The one owner of order state (commerce.md §8-§10): every transition of a vendor order and its payment
intent lives here, and delivery, payouts, checkout and the TTL job call it instead of setting columns.

Every mutation locks the order row first and re-checks its status, so concurrent actions serialize per
order; a transition not in commerce.md's tables answers 422 STATE_CONFLICT before anything is written,
and repeating a transition already reached answers 200 without side effects. Stock moves only through
a line's own status transition (see repository.reject_lines), so it moves exactly once.

Checks that belong to another domain (is this agent the one holding the order?) are passed in as
callables, so this module never imports the domains that call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.audit import service as audit
from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog.repository import inventory
from packfinderz.catalog.service import reserve_stock
from packfinderz.events.outbox import Actor, emit
from packfinderz.events.registry import (
    CashCollected,
    OrderCanceled,
    OrderDecided,
    OrderExpired,
    OrderPaid,
    OrderPendingNudge,
    OrderReadyForDispatch,
    OrderRetried,
    PaymentFailed,
)
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, StateConflict
from packfinderz.ledger import repository as ledger
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.orders import repository
from packfinderz.orders.schemas import ActionResult, CancelIn, LineDecisionIn, OrderRef
from packfinderz.stores.repository import parties
from packfinderz.stores.service import delivery_refusal, vendor_visible_to_buyer

log = structlog.get_logger("orders")

ORDER_TRANSITIONS = Counter(
    "packfinderz_order_transitions_total", "Vendor order status transitions", ["from", "to"]
)

PLACED = "created_pending"
LINE_DECIDABLE = frozenset({"created_pending", "accepted", "partially_accepted"})
CANCELABLE = LINE_DECIDABLE | {"ready_for_dispatch", "fulfilled", "hold_for_pickup"}
DISPATCHABLE = frozenset(repository.DISPATCHABLE)
TERMINAL = frozenset({"rejected", "canceled", "expired", "closed"})
NOT_NUDGEABLE = TERMINAL | {"in_transit", "delivered"}
NO_BALANCE = frozenset({"rejected", "canceled", "expired"})
OPEN_INTENT = frozenset({"unpaid", "pending"})
SETTLED_INTENT = frozenset({"settled", "paid"})
CASH_STATUSES = frozenset({"in_transit", "delivered"})
NUDGE_AFTER = timedelta(days=5)
EXPIRE_AFTER = timedelta(days=10)

AssigneeCheck = Callable[[VendorOrder], Awaitable[OrderAssignment]]
"""Delivery's check that the caller holds the order's active assignment (raises 403 otherwise)."""


def placed_status(has_live_lines: bool) -> str:
    """The status a new order starts in: pending, or rejected when none of its lines could be taken."""
    return PLACED if has_live_lines else "rejected"


def initial_intent_status(payment_method: str) -> str:
    """The status a new order's payment intent starts in (ACH is pending, cash unpaid)."""
    return "pending" if payment_method == "ach" else "unpaid"


# --- shared helpers ----------------------------------------------------------------------------------


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


def _set_status(order: VendorOrder, status: str) -> None:
    """Move the (locked) order to a new status and count the transition."""
    ORDER_TRANSITIONS.labels(order.status, status).inc()
    order.status = status


async def locked_order(session: AsyncSession, order_id: uuid.UUID) -> VendorOrder:
    """The order, locked FOR UPDATE; 404 when it does not exist."""
    order = await repository.get_order(session, order_id, lock=True)
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
    _set_status(order, target)
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
        _set_status(order, status)
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
    _set_status(order, "canceled")
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


async def retry(session: AsyncSession, ctx: StoreCtx, order_id: uuid.UUID) -> OrderRef:
    """Re-place an expired order as a new pending order with the same snapshot, reserving all of it."""
    order = await locked_order(session, order_id)
    require_buyer(order, ctx)
    if order.status != "expired":
        raise refuse(order, "retry")
    existing = await repository.retry_of(session, order.id)
    if existing is not None:
        raise Conflict("order already retried", details={"order_id": str(existing)})
    found = await parties(session, [order.buyer_store_id, order.vendor_store_id])
    buyer, buyer_licensed = found[order.buyer_store_id]
    if buyer.kyc_status != "verified" or not buyer_licensed:
        raise Forbidden("buyer verification required")
    vendor, vendor_licensed = found[order.vendor_store_id]
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
    intent_status = initial_intent_status(new.payment_method)
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
    _set_status(order, "expired")
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


# --- delivery: pickup, delivery, cash (commerce.md §8.5) ---------------------------------------------


async def pick_up(
    session: AsyncSession, order_id: uuid.UUID, actor: Actor, assignee: AssigneeCheck
) -> ActionResult:
    """The assigned agent takes the order: in transit."""
    order = await locked_order(session, order_id)
    assignment = await assignee(order)
    if order.status == "in_transit":
        return await current_result(session, order)
    if order.status not in DISPATCHABLE:
        raise refuse(order, "pick up")
    _set_status(order, "in_transit")
    order.shipping_status = "in_transit"
    assignment.pickup_time = now()
    await repository.flush(session)
    await record(session, "order.picked_up", order, actor, status=order.status)
    log.info("order.picked_up", order_id=str(order.id), agent_user_id=str(actor.user_id))
    return await current_result(session, order)


async def deliver(
    session: AsyncSession, order_id: uuid.UUID, actor: Actor, assignee: AssigneeCheck
) -> ActionResult:
    """Delivered: the fulfilled lines' reserved stock is consumed, inside this locked transition only."""
    order = await locked_order(session, order_id)
    assignment = await assignee(order)
    if order.status == "delivered":
        return await current_result(session, order)
    if order.status != "in_transit":
        raise refuse(order, "deliver")
    lines = await repository.lines_of(session, order.id)
    for product_id in await inventory.consume(session, live_quantities(lines, "fulfilled")):
        # Never block a delivery over it: the goods have left; an operator reconciles the stock.
        log.error("inventory.consume_mismatch", order_id=str(order.id), product_id=str(product_id))
    moment = now()
    _set_status(order, "delivered")
    order.shipping_status = "delivered"
    order.delivered_at = moment
    assignment.delivery_time = moment
    await repository.flush(session)
    await record(session, "order.delivered", order, actor, status=order.status)
    log.info("order.delivered", order_id=str(order.id), agent_user_id=str(actor.user_id))
    return await current_result(session, order)


@dataclass(frozen=True)
class CashOutcome:
    """A collection's answer: the order's state, or (committed first) the mismatch to answer 422 with."""

    result: ActionResult | None = None
    mismatch: dict[str, int] | None = None


async def collect_cash(
    session: AsyncSession,
    order_id: uuid.UUID,
    actor: Actor,
    assignee: AssigneeCheck,
    amount_cents: int | None,
) -> CashOutcome:
    """Record the cash the agent collected (commerce.md §8.5).

    A match settles the intent and writes exactly one `cash_collected` ledger row; a mismatch fails
    the intent and holds the order, which must be committed even though the caller answers 422.
    """
    order = await locked_order(session, order_id)
    assignment = await assignee(order)
    intent = await repository.intent_of(session, order.id, lock=True)
    if intent is None:
        raise Conflict("order has no payment intent")
    if intent.method != "cash":
        raise StateConflict("payment is not cash", details={"payment_method": intent.method})
    if intent.status in SETTLED_INTENT:
        return CashOutcome(result=action_result(order, intent))
    if intent.status in ("failed", "rejected"):
        raise StateConflict("payment already finalized", details={"payment_status": intent.status})
    if order.status not in CASH_STATUSES:
        raise refuse(order, "collect cash for")
    supplied = amount_cents
    moment = now()
    agent_user_id = actor.user_id
    if (supplied is not None and supplied != intent.amount_cents) or intent.amount_cents != order.total_cents:
        mismatch = {"expected_cents": order.total_cents}
        if supplied is not None:
            mismatch["supplied_cents"] = supplied
        counted = supplied if supplied is not None else intent.amount_cents
        reason = f"cash mismatch: expected {order.total_cents} cents, got {counted}"
        intent.status = "failed"
        intent.failure_reason = reason
        _set_status(order, "hold")
        await repository.flush(session)
        await emit(
            session,
            PaymentFailed(order_id=order.id, payment_intent_id=intent.id, failure_reason=reason),
            actor=actor,
        )
        await record(
            session, "order.cash_mismatch", order, actor, amount_cents=intent.amount_cents, **mismatch
        )
        log.warning("order.cash_mismatch", order_id=str(order.id), agent_user_id=str(agent_user_id))
        return CashOutcome(mismatch=mismatch)
    intent.status = "settled"
    intent.cash_collected_at = moment
    order.balance_due_cents = 0
    assignment.cash_pickup_time = moment
    await repository.flush(session)
    await ledger.append(
        session,
        order,
        type_="cash_collected",
        amount_cents=intent.amount_cents,
        actor_user_id=agent_user_id,
        details={"payment_intent_id": str(intent.id), "supplied_cents": supplied},
    )
    await emit(
        session,
        CashCollected(
            order_id=order.id,
            buyer_store_id=order.buyer_store_id,
            vendor_store_id=order.vendor_store_id,
            amount_cents=intent.amount_cents,
            cash_collected_at=moment,
        ),
        actor=actor,
    )
    await record(session, "order.cash_collected", order, actor, amount_cents=intent.amount_cents)
    log.info("order.cash_collected", order_id=str(order.id), agent_user_id=str(agent_user_id))
    return CashOutcome(result=action_result(order, intent))


# --- payout (commerce.md §10) -----------------------------------------------------------------------


async def close_paid(session: AsyncSession, order_id: uuid.UUID, actor: Actor) -> ActionResult:
    """Pay the vendor: intent paid, order closed, one `vendor_payout` ledger row, `order_paid` emitted."""
    order = await locked_order(session, order_id)
    intent = await repository.intent_of(session, order.id, lock=True)
    if intent is None:
        raise Conflict("order has no payment intent")
    if order.status == "closed":
        return action_result(order, intent)
    if order.status != "delivered" or intent.status != "settled":
        raise StateConflict(
            "payout needs a delivered order whose cash was collected",
            details={"status": order.status, "payment_status": intent.status},
        )
    moment = now()
    intent.status = "paid"
    intent.vendor_paid_at = moment
    _set_status(order, "closed")
    order.closed_at = moment
    await repository.flush(session)
    await ledger.append(
        session,
        order,
        type_="vendor_payout",
        amount_cents=intent.amount_cents,
        actor_user_id=actor.user_id,
        details={"payment_intent_id": str(intent.id)},
    )
    await emit(
        session,
        OrderPaid(
            order_id=order.id,
            buyer_store_id=order.buyer_store_id,
            vendor_store_id=order.vendor_store_id,
            payment_intent_id=intent.id,
            amount_cents=intent.amount_cents,
            vendor_paid_at=moment,
        ),
        actor=actor,
    )
    await record(
        session,
        "payout.confirmed",
        order,
        actor,
        payment_intent_id=str(intent.id),
        amount_cents=intent.amount_cents,
    )
    log.info("payout.confirmed", order_id=str(order.id))
    return action_result(order, intent)
