"""HTTP: /api/v1/vendor/customers (vendor stores; read by every role, hidden by deciders)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from packfinderz.auth.deps import StoreCtx, VendorStore
from packfinderz.customers import service
from packfinderz.customers.schemas import CUSTOMER_EXAMPLE, CustomerDetail, CustomerDTO, CustomerSort
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import Forbidden
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorQuery, PageEnvelope

router = APIRouter(prefix="/api/v1/vendor/customers", tags=["vendor: customers"])

# As for orders (commerce.md §0): every role reads; owners, managers and ops change what the list shows.
WRITER_ROLES = frozenset({"owner", "manager", "ops"})


async def _vendor_writer(ctx: VendorStore) -> StoreCtx:
    if ctx.role not in WRITER_ROLES:
        raise Forbidden("insufficient store role")
    return ctx


VendorWriter = Annotated[StoreCtx, Depends(_vendor_writer)]


@router.get(
    "",
    response_model=PageEnvelope[CustomerDTO],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"data": {"items": [CUSTOMER_EXAMPLE], "next_cursor": None, "total": 1}}
                }
            }
        },
        **error_responses(400, 401, 403, s403="FORBIDDEN `vendor access required`."),
    },
    summary="The buyer stores the active vendor sells to, with total",
)
async def list_customers(
    ctx: VendorStore,
    session: DbSession,
    sort: Annotated[
        CustomerSort,
        Query(
            description="`last_order` (default): latest order first; `total_spent`: biggest spender first."
        ),
    ] = "last_order",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Any member of a vendor store. Buyers hidden with DELETE are left out until they order again.
    `order_count` and the dates cover every order; `total_spent_cents` leaves canceled, rejected and
    expired orders out."""
    return {"data": await service.list_customers(session, ctx, sort, limit, cursor)}


@router.get(
    "/{buyer_store_id}",
    response_model=DataResponse[CustomerDetail],
    responses=error_responses(
        400, 401, 403, 404, s404="NOT_FOUND: the buyer never ordered from the active vendor."
    ),
    summary="One customer: figures and its latest orders with the active vendor",
)
async def get_customer(buyer_store_id: uuid.UUID, ctx: VendorStore, session: DbSession) -> dict[str, Any]:
    """Any member of a vendor store; answers for hidden customers too (`hidden: true`). The ten latest
    orders, newest first."""
    return {"data": await service.customer_detail(session, ctx, buyer_store_id)}


@router.delete(
    "/{buyer_store_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        400,
        401,
        403,
        404,
        s403="FORBIDDEN: `vendor access required` or `insufficient store role` (staff).",
        s404="NOT_FOUND: the buyer never ordered from the active vendor.",
    ),
    summary="Hide a customer from the list (until its next order)",
)
async def hide_customer(buyer_store_id: uuid.UUID, ctx: VendorWriter, session: DbSession) -> Response:
    """Owner, manager or ops. Hides only: no order or figure changes, and an order placed afterwards lists
    the buyer again. Repeating it is a 204 too (the hide starts again from now)."""
    await service.hide_customer(session, ctx, buyer_store_id)
    return Response(status_code=204)
