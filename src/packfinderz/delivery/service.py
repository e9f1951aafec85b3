"""Delivery (commerce.md §8.5, §9): agent heartbeats, the dispatch queue and assignment, pickup, delivery
and cash collection.

Heartbeats live in Redis only (`pf:heartbeat:agent:<user_id>`, 120 s): a fresh key is presence. Every
order mutation locks the order row first, so claims, auto-assignment and admin overrides serialize per
order; the partial unique index on active assignments is the backstop that makes the first one win.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import AuthContext
from packfinderz.delivery import repository
from packfinderz.delivery.schemas import (
    AgentDTO,
    AssignIn,
    AssignResult,
    CashIn,
    ClaimResult,
    HeartbeatIn,
    HeartbeatOut,
    LastHeartbeat,
)
from packfinderz.kit.errors import Conflict, DependencyError, Forbidden, ValidationFailed
from packfinderz.kit.pagination import Cursor, Page, PageParams, build_page
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import User
from packfinderz.models.orders import VendorOrder
from packfinderz.orders import lifecycle
from packfinderz.orders import repository as orders_repository
from packfinderz.orders import service as orders
from packfinderz.orders.schemas import ActionResult, AddressedStoreCard, AgentOrderSummary, OrderDetail

log = structlog.get_logger("delivery")

HEARTBEAT_TTL_SECONDS = 120
ASSIGNABLE = lifecycle.DISPATCHABLE | {"in_transit", "hold"}


def heartbeat_key(user_id: uuid.UUID) -> str:
    return f"pf:heartbeat:agent:{user_id}"


# --- heartbeats -----------------------------------------------------------------------------------


async def heartbeat(redis: Redis, agent: AuthContext, body: HeartbeatIn) -> HeartbeatOut:
    """Record the agent's presence for 120 s."""
    if (body.lat is None) != (body.lng is None):
        missing = "lng" if body.lng is None else "lat"
        raise ValidationFailed(details={missing: "lat and lng must be sent together"})
    at = datetime.now(UTC)
    value = {"status": body.status, "lat": body.lat, "lng": body.lng, "at": at.isoformat()}
    try:
        await redis.set(heartbeat_key(agent.user_id), json.dumps(value), ex=HEARTBEAT_TTL_SECONDS)
    except RedisError:
        raise DependencyError("redis") from None
    log.info(
        "agent.heartbeat", user_id=str(agent.user_id), status=body.status, has_location=body.lat is not None
    )
    return HeartbeatOut(status=body.status, at=at, expires_in_s=HEARTBEAT_TTL_SECONDS)


async def last_heartbeats(redis: Redis, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LastHeartbeat]:
    """The fresh heartbeats of these agents (absent = none within 120 s); RedisError propagates."""
    if not user_ids:
        return {}
    raw = await redis.mget([heartbeat_key(user_id) for user_id in user_ids])
    found = {}
    for user_id, value in zip(user_ids, raw, strict=True):
        if value is not None:
            found[user_id] = LastHeartbeat.model_validate(json.loads(value))
    return found


# --- admin: agents --------------------------------------------------------------------------------


async def list_agents(
    session: AsyncSession, redis: Redis, presence: str | None, is_active: bool | None, page: PageParams
) -> Page[AgentDTO]:
    """Agents newest first with presence and last heartbeat; the presence filter is applied after
    reading Redis, so batches are read until the page is full."""
    picked: list[tuple[User, LastHeartbeat | None]] = []
    after = page.cursor
    try:
        while len(picked) <= page.limit:
            batch = await repository.agents_batch(session, is_active, after, page.limit + 1)
            beats = await last_heartbeats(redis, [user.id for user in batch])
            for user in batch:
                beat = beats.get(user.id)
                if presence is None or (beat.status if beat else "offline") == presence:
                    picked.append((user, beat))
            if len(batch) <= page.limit:
                break
            after = Cursor(batch[-1].created_at, batch[-1].id)
    except RedisError:
        raise DependencyError("redis") from None
    users, next_cursor = build_page([user for user, _ in picked], page.limit)
    counts = await repository.active_assignment_counts(session, [user.id for user in users])
    items = [
        AgentDTO(
            user_id=user.id,
            email=user.email,
            first_name=user.first_name,
            last_name=user.last_name,
            is_active=user.is_active,
            presence=beat.status if beat else "offline",
            last_heartbeat=beat,
            active_assignments=counts.get(user.id, 0),
        )
        for user, beat in picked[: len(users)]
    ]
    return Page(items=items, next_cursor=next_cursor)


# --- reads ----------------------------------------------------------------------------------------


def _addressed(row: Any, prefix: str) -> AddressedStoreCard:
    def part(name: str) -> Any:
        return getattr(row, f"{prefix}_{name}")

    return AddressedStoreCard(
        id=part("id"),
        company_name=part("company_name"),
        dba_name=part("dba_name"),
        logo_url=part("logo_url"),
        address={
            "line1": part("address_line1"),
            "line2": part("address_line2"),
            "city": part("address_city"),
            "state": part("address_state"),
            "postal_code": part("address_postal_code"),
            "country": part("address_country"),
            "lat": part("lat"),
            "lng": part("lng"),
        },
    )


def _agent_page(rows: list[Any], limit: int) -> Page[AgentOrderSummary]:
    items, next_cursor = build_page(rows, limit)
    return Page(
        items=[
            AgentOrderSummary(
                id=row.id,
                order_number=row.order_number,
                created_at=row.created_at,
                status=row.status,
                total_cents=row.total_cents,
                discounts_cents=row.discounts_cents,
                total_items=int(row.total_items),
                payment_status=row.payment_status,
                fulfillment_status=row.fulfillment_status,
                shipping_status=row.shipping_status,
                buyer=_addressed(row, "buyer"),
                vendor=_addressed(row, "vendor"),
            )
            for row in items
        ],
        next_cursor=next_cursor,
    )


async def queue(session: AsyncSession, page: PageParams) -> Page[AgentOrderSummary]:
    """Orders ready for pickup that nobody holds, newest first."""
    return _agent_page(await orders_repository.queue_page(session, page), page.limit)


async def my_orders(
    session: AsyncSession, agent: AuthContext, status: str | None, page: PageParams
) -> Page[AgentOrderSummary]:
    """The orders the agent actively holds, any status, newest first."""
    return _agent_page(
        await orders_repository.agent_orders_page(session, agent.user_id, status, page), page.limit
    )


async def _held(session: AsyncSession, order: VendorOrder, agent: AuthContext) -> OrderAssignment | None:
    found = await orders_repository.active_assignment(session, order.id)
    return found[0] if found and found[0].agent_user_id == agent.user_id else None


async def require_assignee(session: AsyncSession, order: VendorOrder, agent: AuthContext) -> OrderAssignment:
    """The caller's active assignment of the order; 403 for any other agent."""
    assignment = await _held(session, order, agent)
    if assignment is None:
        raise Forbidden("order is not assigned to you")
    return assignment


async def agent_order(session: AsyncSession, agent: AuthContext, order_id: uuid.UUID) -> OrderDetail:
    """OrderDetail for the assigned agent, or for any agent while the order waits in the queue."""
    order = await orders.found_order(session, order_id)
    if await _held(session, order, agent) is None and not await orders_repository.is_queued(
        session, order.id
    ):
        raise Forbidden("order is not assigned to you")
    return await orders.order_detail(session, order)


# --- assignment -----------------------------------------------------------------------------------


async def _assignment_out(session: AsyncSession, order: VendorOrder) -> Any:
    found = await orders_repository.active_assignment(session, order.id)
    assert found is not None
    return orders.assignment_dto(*found)


async def claim(session: AsyncSession, agent: AuthContext, order_id: uuid.UUID) -> ClaimResult:
    """Take a queued order; the first claim wins (409 afterwards), a repeat by the holder is a no-op."""
    order = await lifecycle.locked_order(session, order_id)
    if order.status not in lifecycle.DISPATCHABLE:
        raise lifecycle.refuse(order, "claim")
    current = await orders_repository.active_assignment(session, order.id)
    if current is not None and current[0].agent_user_id != agent.user_id:
        raise Conflict("order already assigned")
    if current is None:
        inserted = await repository.insert_assignment(
            session, order.id, agent.user_id, "claim", agent.user_id
        )
        if inserted is None:
            raise Conflict("order already assigned")
        await lifecycle.record(
            session, "order.claimed", order, agent.actor(), agent_user_id=str(agent.user_id)
        )
        log.info("order.claimed", order_id=str(order.id), agent_user_id=str(agent.user_id))
    result = await lifecycle.current_result(session, order)
    return ClaimResult(**result.model_dump(), assignment=await _assignment_out(session, order))


async def assign(
    session: AsyncSession, admin: AuthContext, order_id: uuid.UUID, body: AssignIn
) -> AssignResult:
    """Admin override: give the order to this agent, ending any other agent's assignment."""
    if await repository.active_agent(session, body.agent_user_id) is None:
        raise ValidationFailed(details={"agent_user_id": "must be an active agent"})
    order = await lifecycle.locked_order(session, order_id)
    if order.status not in ASSIGNABLE:
        raise lifecycle.refuse(order, "assign an agent to")
    current = await orders_repository.active_assignment(session, order.id)
    if current is None or current[0].agent_user_id != body.agent_user_id:
        previous = await orders_repository.deactivate_assignment(session, order.id)
        inserted = await repository.insert_assignment(
            session, order.id, body.agent_user_id, "admin", admin.user_id
        )
        if inserted is None:  # unreachable while the order row is locked; never silently lose the override
            raise Conflict("order already assigned")
        await lifecycle.record(
            session,
            "order.agent_assigned",
            order,
            admin.actor(),
            agent_user_id=str(body.agent_user_id),
            previous_agent_user_id=str(previous) if previous else None,
        )
        log.info("order.agent_assigned", order_id=str(order.id), agent_user_id=str(body.agent_user_id))
    return AssignResult(order_id=order.id, assignment=await _assignment_out(session, order))


async def auto_assign(session: AsyncSession, redis: Redis, order_id: uuid.UUID) -> uuid.UUID | None:
    """The dispatch consumer's step: a random agent with a fresh `available` heartbeat, or nobody.

    Redis errors propagate (the message is retried); an order already taken or no longer dispatchable
    is left alone.
    """
    order = await orders_repository.get_order(session, order_id, lock=True)
    if order is None or order.status not in lifecycle.DISPATCHABLE:
        return None
    if await orders_repository.active_assignment(session, order.id) is not None:
        return None
    agents = await repository.active_agent_ids(session)
    beats = await last_heartbeats(redis, agents)
    candidates = [agent for agent in agents if agent in beats and beats[agent].status == "available"]
    if not candidates:
        log.info("dispatch.no_agent_available", order_id=str(order.id))
        return None
    chosen = secrets.choice(candidates)
    if await repository.insert_assignment(session, order.id, chosen, "auto", None) is None:
        return None
    await lifecycle.record(session, "order.auto_assigned", order, None, agent_user_id=str(chosen))
    log.info(
        "dispatch.assigned", order_id=str(order.id), agent_user_id=str(chosen), candidates=len(candidates)
    )
    return chosen


# --- pickup, delivery, cash: transitions owned by orders.lifecycle ---------------------------------------


def assignee_check(session: AsyncSession, agent: AuthContext) -> lifecycle.AssigneeCheck:
    """The check orders.lifecycle runs on the locked order: the caller must hold its active assignment."""

    async def check(order: VendorOrder) -> OrderAssignment:
        return await require_assignee(session, order, agent)

    return check


async def pickup(session: AsyncSession, agent: AuthContext, order_id: uuid.UUID) -> ActionResult:
    """The assigned agent takes the order: in transit."""
    return await lifecycle.pick_up(session, order_id, agent.actor(), assignee_check(session, agent))


async def deliver(session: AsyncSession, agent: AuthContext, order_id: uuid.UUID) -> ActionResult:
    """Delivered: the fulfilled lines' reserved stock is consumed, inside this locked transition only."""
    return await lifecycle.deliver(session, order_id, agent.actor(), assignee_check(session, agent))


async def cash_collected(
    session: AsyncSession, agent: AuthContext, order_id: uuid.UUID, body: CashIn
) -> lifecycle.CashOutcome:
    """Record the cash the agent collected (a match settles, a mismatch holds; commerce.md §8.5)."""
    return await lifecycle.collect_cash(
        session, order_id, agent.actor(), assignee_check(session, agent), body.amount_cents
    )
