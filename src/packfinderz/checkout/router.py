"""HTTP: checkout and its confirmation (commerce.md §7)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from packfinderz.auth.deps import BuyerStore, StoreCtx, require_store
from packfinderz.checkout import service
from packfinderz.checkout.schemas import CheckoutIn, CheckoutResult, Confirmation
from packfinderz.kit.appstate import AppSettings
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses

router = APIRouter(prefix="/api/v1/checkout", tags=["checkout"])

CHECKOUT_ROLES = frozenset({"owner", "manager", "ops"})


# A verified buyer's owner, manager or ops member (staff may quote, not order).
CheckoutBuyer = Annotated[StoreCtx, require_store("buyer", *CHECKOUT_ROLES, verified=True)]


@router.post(
    "",
    status_code=201,
    response_model=DataResponse[CheckoutResult],
    responses={
        200: {
            "model": DataResponse[CheckoutResult],
            "description": "The cart was already converted: its result.",
        },
        **error_responses(
            400,
            401,
            403,
            404,
            409,
            422,
            s409="CONFLICT: quote expired (re-quote), no vendor available, or nothing could be reserved "
            "(`details.rejected_vendors`, and `details.out_of_stock[{product_id, product_name, "
            "requested_qty, remaining_qty}]` for each product whose stock could not cover the quantity; "
            "answered before any write when the committed stock already falls short: hot-SKU admission); "
            "or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
            s422="STATE_CONFLICT: a line breaks the product's current MOQ or max quantity "
            "(`details.violations`); or IDEMPOTENCY_KEY_REUSED.",
        ),
    },
    summary="Turn the active quote into one order per vendor",
)
@idempotent("critical")
async def checkout(body: CheckoutIn, ctx: CheckoutBuyer, session: DbSession, settings: AppSettings) -> Any:
    """One transaction: stock reserved line by line; vendors or lines that cannot proceed are rejected
    without affecting the others. A converted cart answers 200 with its original result.
    `payment_method: ach` is a 400 unless ACH is enabled (`PACKFINDERZ_FEATURE_ALLOW_ACH`)."""
    status, result = await service.checkout(session, ctx, body, settings)
    if status == 201:
        return {"data": result}
    return JSONResponse({"data": result.model_dump(mode="json")}, status_code=status)


@router.get(
    "/{identifier}/confirmation",
    response_model=DataResponse[Confirmation],
    responses=error_responses(400, 401, 403, 404),
    summary="The vendor orders of a checkout, with their current states",
)
async def confirmation(identifier: uuid.UUID, ctx: BuyerStore, session: DbSession) -> dict[str, Any]:
    """`identifier` is the checkout_group_id or the cart id; another buyer's checkout → 403."""
    return {"data": await service.confirmation(session, ctx, identifier)}
