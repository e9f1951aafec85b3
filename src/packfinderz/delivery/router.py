"""HTTP: delivery agent routes and the admin agent routes (commerce.md §8.5, §9)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from packfinderz.auth.deps import AdminUser, AgentUser
from packfinderz.delivery import service
from packfinderz.delivery.schemas import (
    AgentDTO,
    AgentStatus,
    AssignIn,
    AssignResult,
    CashIn,
    ClaimResult,
    HeartbeatIn,
    HeartbeatOut,
)
from packfinderz.kit.appstate import AppRedis
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import StateConflict, render
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.media.files import MediaFiles
from packfinderz.models.orders import OrderStatus
from packfinderz.orders import manifest
from packfinderz.orders.schemas import ActionResult, AgentOrderSummary, Manifest, OrderDetail

router = APIRouter(prefix="/api/v1/agent", tags=["delivery"])
admin_router = APIRouter(prefix="/api/admin/v1", tags=["delivery"])

Pages = Annotated[PageParams, Depends(page_params)]
S422 = "STATE_CONFLICT: the order's status does not allow this (`details.status`); or IDEMPOTENCY_KEY_REUSED."


@router.post(
    "/heartbeat",
    response_model=DataResponse[HeartbeatOut],
    responses=error_responses(400, 401, 403),
    summary="Report the agent's presence (every 60 s at most)",
)
async def heartbeat(body: HeartbeatIn, agent: AgentUser, redis: AppRedis) -> dict[str, Any]:
    """Kept 120 s; only agents with a fresh `available` heartbeat are auto-assigned orders.

    `lat` and `lng` come together or not at all (one without the other → 400 with `details`)."""
    return {"data": await service.heartbeat(redis, agent, body)}


@router.get(
    "/orders/queue",
    response_model=PageEnvelope[AgentOrderSummary],
    responses=error_responses(400, 401, 403),
    summary="Orders ready for pickup that no agent holds",
)
async def queue(agent: AgentUser, session: DbSession, page: Pages) -> dict[str, Any]:
    """Newest first."""
    del agent
    return {"data": await service.queue(session, page)}


@router.get(
    "/orders",
    response_model=PageEnvelope[AgentOrderSummary],
    responses=error_responses(400, 401, 403),
    summary="The orders the agent holds",
)
async def my_orders(
    agent: AgentUser,
    session: DbSession,
    page: Pages,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status.")] = None,
) -> dict[str, Any]:
    """Active assignments of the caller, any order status, newest first."""
    return {"data": await service.my_orders(session, agent, status, page)}


@router.get(
    "/orders/{order_id}",
    response_model=DataResponse[OrderDetail],
    responses=error_responses(400, 401, 403, 404),
    summary="One order: assigned to the caller, or waiting in the queue",
)
async def agent_order(order_id: uuid.UUID, agent: AgentUser, session: DbSession) -> dict[str, Any]:
    """Any other order → 403."""
    return {"data": await service.agent_order(session, agent, order_id)}


@router.get(
    "/orders/{order_id}/manifest",
    response_model=DataResponse[Manifest],
    responses=error_responses(400, 401, 403, 404),
    summary="The current transport manifest of an order the caller holds",
)
async def agent_manifest(
    order_id: uuid.UUID, agent: AgentUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Only the agent holding the active assignment (else 403)."""
    return {
        "data": await manifest.for_agent(session, order_id, files, service.assignee_check(session, agent))
    }


@router.post(
    "/orders/{order_id}/claim",
    response_model=DataResponse[ClaimResult],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: another agent holds the order; or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s422=S422,
    ),
    summary="Take an order from the queue (first claim wins)",
)
@idempotent("critical")
async def claim(order_id: uuid.UUID, agent: AgentUser, session: DbSession) -> dict[str, Any]:
    """No heartbeat needed; the caller already holding it gets 200 again."""
    return {"data": await service.claim(session, agent, order_id)}


@router.post(
    "/orders/{order_id}/pickup",
    response_model=DataResponse[ActionResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Pick the order up: in transit",
)
@idempotent("critical")
async def pickup(order_id: uuid.UUID, agent: AgentUser, session: DbSession) -> dict[str, Any]:
    """The assigned agent only."""
    return {"data": await service.pickup(session, agent, order_id)}


@router.post(
    "/orders/{order_id}/deliver",
    response_model=DataResponse[ActionResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Hand the order over: delivered (its reserved stock is consumed)",
)
@idempotent("critical")
async def deliver(order_id: uuid.UUID, agent: AgentUser, session: DbSession) -> dict[str, Any]:
    """The assigned agent only; the order must be in transit."""
    return {"data": await service.deliver(session, agent, order_id)}


@router.post(
    "/orders/{order_id}/cash-collected",
    response_model=DataResponse[ActionResult],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: the order has no payment intent; or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s422="STATE_CONFLICT: not cash, payment already finalized, wrong status, or an amount mismatch "
        "(`details.expected_cents`, `supplied_cents`; the failed payment and the hold are recorded); "
        "or IDEMPOTENCY_KEY_REUSED.",
    ),
    summary="Record the cash collected at delivery",
)
@idempotent("critical")
async def cash_collected(
    order_id: uuid.UUID, agent: AgentUser, session: DbSession, body: CashIn | None = None
) -> Any:
    """A match settles the payment and writes the ledger; a mismatch is committed, then answered 422."""
    outcome = await service.cash_collected(session, agent, order_id, body or CashIn())
    if outcome.mismatch is not None:
        # A response, not an exception: the request's transaction commits the failed payment first.
        return render(StateConflict("cash amount does not match the order", details=outcome.mismatch))
    return {"data": outcome.result}


@admin_router.get(
    "/agents",
    response_model=PageEnvelope[AgentDTO],
    responses=error_responses(400, 401, 403),
    summary="Delivery agents with presence, last heartbeat and active assignments",
)
async def list_agents(
    *,
    admin: AdminUser,
    session: DbSession,
    redis: AppRedis,
    page: Pages,
    presence: Annotated[AgentStatus | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    """Newest first; presence is `offline` without a heartbeat in the last 120 s."""
    del admin
    return {"data": await service.list_agents(session, redis, presence, is_active, page)}


@admin_router.post(
    "/orders/{order_id}/assign-agent",
    response_model=DataResponse[AssignResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Assign an agent to an order, replacing any other",
)
@idempotent("critical")
async def assign_agent(
    order_id: uuid.UUID, body: AssignIn, admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Ready, held for pickup, in transit or on hold; the new agent continues from the current status."""
    return {"data": await service.assign(session, admin, order_id, body)}


@admin_router.get(
    "/orders/{order_id}/manifest",
    response_model=DataResponse[Manifest],
    responses=error_responses(400, 401, 403, 404),
    summary="The current transport manifest of any order",
)
async def admin_manifest(
    order_id: uuid.UUID, admin: AdminUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Signed download URL, valid STORAGE_DOWNLOAD_URL_EXPIRY."""
    del admin
    return {"data": await manifest.for_admin(session, order_id, files)}
