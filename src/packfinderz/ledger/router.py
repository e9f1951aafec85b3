"""HTTP: admin payouts (commerce.md §10)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from packfinderz.auth.deps import AdminUser
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.ledger import service
from packfinderz.ledger.schemas import PayoutItem
from packfinderz.orders.schemas import ActionResult, OrderDetail

router = APIRouter(prefix="/api/admin/v1/orders", tags=["payouts"])

Pages = Annotated[PageParams, Depends(page_params)]


@router.get(
    "/payouts",
    response_model=PageEnvelope[PayoutItem],
    responses=error_responses(400, 401, 403),
    summary="Delivered orders whose cash was collected and whose vendor is unpaid",
)
async def payout_queue(admin: AdminUser, session: DbSession, page: Pages) -> dict[str, Any]:
    """Oldest delivery first (the cursor follows `delivered_at`)."""
    del admin
    return {"data": await service.payout_queue(session, page)}


@router.get(
    "/payouts/{order_id}",
    response_model=DataResponse[OrderDetail],
    responses=error_responses(
        400, 401, 403, 404, 422, s422="STATE_CONFLICT: the order is not awaiting payout."
    ),
    summary="One order awaiting payout",
)
async def payout_detail(order_id: uuid.UUID, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Delivered and settled orders only (else 422)."""
    del admin
    return {"data": await service.payout_detail(session, order_id)}


@router.post(
    "/{order_id}/confirm-payout",
    response_model=DataResponse[ActionResult],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: the order has no payment intent; or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s422="STATE_CONFLICT: not delivered or cash not collected; or IDEMPOTENCY_KEY_REUSED.",
    ),
    summary="Confirm the vendor was paid: the order closes",
)
@idempotent("critical")
async def confirm_payout(order_id: uuid.UUID, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Writes the `vendor_payout` ledger row; a closed order answers 200 again."""
    return {"data": await service.confirm_payout(session, admin, order_id)}
