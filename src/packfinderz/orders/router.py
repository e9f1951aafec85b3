"""HTTP: store-scoped order routes (commerce.md §8.4, §9.7): lists, detail, decisions, buyer actions,
storefront history, manifests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import StringConstraints

from packfinderz.auth.deps import BuyerStore, StoreContext, StoreCtx, VendorStore, require_store
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import ValidationFailed
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.kit.schemas import DateTimeParam
from packfinderz.media.files import MediaFiles
from packfinderz.models.orders import VENDOR_ORDER_STATUSES, FulfillmentStatus, OrderStatus, ShippingStatus
from packfinderz.orders import lifecycle, manifest, service
from packfinderz.orders.repository import OrderFilters
from packfinderz.orders.schemas import (
    ActionResult,
    BuyerOrderSummary,
    CancelIn,
    DecisionIn,
    LineDecisionIn,
    Manifest,
    OrderDetail,
    OrderRef,
    PaymentStatus,
    StorefrontTotals,
    VendorOrderSummary,
)

router = APIRouter(prefix="/api/v1", tags=["orders"])

# commerce.md §0: staff may read orders, decide lines and generate manifests, nothing else.
DECIDER_ROLES = frozenset({"owner", "manager", "ops"})
ORDER_STATUSES = VENDOR_ORDER_STATUSES
_STATUS = "|".join(ORDER_STATUSES)
STATUS_LIST_PATTERN = f"^({_STATUS})(,({_STATUS}))*$"
S422 = "STATE_CONFLICT: the order's status does not allow this (`details.status`); or IDEMPOTENCY_KEY_REUSED."


BuyerWriter = Annotated[StoreCtx, require_store("buyer", *DECIDER_ROLES)]
VendorDecider = Annotated[StoreCtx, require_store("vendor", *DECIDER_ROLES)]
Pages = Annotated[PageParams, Depends(page_params)]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def _filters(
    *,
    order_status: Annotated[OrderStatus | None, Query()] = None,
    fulfillment_status: Annotated[FulfillmentStatus | None, Query()] = None,
    shipping_status: Annotated[ShippingStatus | None, Query()] = None,
    payment_status: Annotated[PaymentStatus | None, Query()] = None,
    date_from: Annotated[
        DateTimeParam | None,
        Query(description="RFC 3339 with offset; created at or after (not after `date_to`)."),
    ] = None,
    date_to: Annotated[
        DateTimeParam | None, Query(description="RFC 3339 with offset; created at or before.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\u0000]*$",
            description="Order number or the other party's company/dba name; no NUL character.",
        ),
    ] = None,
    actionable_statuses: Annotated[
        list[Annotated[str, StringConstraints(pattern=STATUS_LIST_PATTERN)]] | None,
        Query(
            description="Vendors only (a buyer → 400): statuses needing action, comma-separated or repeated."
        ),
    ] = None,
) -> OrderFilters:
    statuses = None
    if actionable_statuses is not None:
        statuses = tuple(
            s.strip().lower() for raw in actionable_statuses for s in raw.split(",") if s.strip()
        )
        if not statuses or any(s not in ORDER_STATUSES for s in statuses):
            raise ValidationFailed(
                details={"actionable_statuses": f"must be one of: {', '.join(ORDER_STATUSES)}"}
            )
    start, end = _utc(date_from), _utc(date_to)
    if start and end and start > end:
        raise ValidationFailed(details={"date_from": "must not be after date_to"})
    return OrderFilters(
        order_status=order_status,
        fulfillment_status=fulfillment_status,
        shipping_status=shipping_status,
        payment_status=payment_status,
        date_from=start,
        date_to=end,
        q=q,
        statuses=statuses,
    )


Filters = Annotated[OrderFilters, Depends(_filters)]
Summaries = PageEnvelope[BuyerOrderSummary | VendorOrderSummary]


@router.get(
    "/orders",
    response_model=Summaries,
    responses=error_responses(400, 401, 403),
    summary="The active store's orders (buyer or vendor perspective), with total",
)
async def list_orders(ctx: StoreContext, session: DbSession, filters: Filters, page: Pages) -> dict[str, Any]:
    """Newest first. Buyers see the vendor of each order, vendors the buyer.

    Rules the schema cannot state (each a 400 with `details`): `actionable_statuses` is for vendors only;
    `date_from` must not be after `date_to`; a cursor is only valid as a previous page's `next_cursor`."""
    return {"data": await service.list_orders(session, ctx, filters, page)}


@router.get(
    "/orders/{order_id}",
    response_model=DataResponse[OrderDetail],
    responses=error_responses(400, 401, 403, 404),
    summary="One order with lines, payment, parties, assignment and manifest",
)
async def get_order(order_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """The buyer or the vendor of the order; another store → 403."""
    return {"data": await service.store_order(session, ctx, order_id)}


@router.post(
    "/vendor/orders/{order_id}/decision",
    response_model=DataResponse[ActionResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Accept or reject a pending order",
)
@idempotent("critical")
async def decide(
    order_id: uuid.UUID, body: DecisionIn, ctx: VendorDecider, session: DbSession
) -> dict[str, Any]:
    """Vendor owner, manager or ops. Rejecting returns every pending line's stock."""
    return {"data": await lifecycle.decide(session, ctx, order_id, body.decision)}


@router.post(
    "/vendor/orders/{order_id}/line-items/decision",
    response_model=DataResponse[ActionResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Fulfil (accept and pack) or reject one line",
)
@idempotent("critical")
async def decide_line(
    order_id: uuid.UUID, body: LineDecisionIn, ctx: VendorStore, session: DbSession
) -> dict[str, Any]:
    """Any vendor member. The last pending line makes the order ready for dispatch (or rejected)."""
    return {"data": await lifecycle.decide_line(session, ctx, order_id, body)}


@router.post(
    "/orders/{order_id}/cancel",
    response_model=DataResponse[ActionResult],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Cancel an order before it is in transit",
)
@idempotent("critical")
async def cancel(
    order_id: uuid.UUID, ctx: BuyerWriter, session: DbSession, body: CancelIn | None = None
) -> dict[str, Any]:
    """Buyer owner, manager or ops. Every line's stock is returned, any assignment ended."""
    return {"data": await lifecycle.cancel(session, ctx, order_id, body or CancelIn())}


@router.post(
    "/orders/{order_id}/nudge",
    status_code=202,
    response_model=DataResponse[OrderRef],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        429,
        s422=S422,
        s429="RATE_LIMIT_EXCEEDED: one nudge per order per 24 h.",
    ),
    summary="Remind the vendor of the order",
)
@idempotent("critical")
async def nudge(order_id: uuid.UUID, ctx: BuyerWriter, session: DbSession) -> dict[str, Any]:
    """Buyer owner, manager or ops; refused once the order is in transit, delivered or terminal; at most
    one per order per 24 hours (429 with `Retry-After`)."""
    return {"data": await service.nudge(session, ctx, order_id)}


@router.post(
    "/orders/{order_id}/retry",
    status_code=201,
    response_model=DataResponse[OrderRef],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: already retried (`details.order_id`), or not enough stock; or "
        "IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s422=S422,
    ),
    summary="Place an expired order again",
)
@idempotent("critical")
async def retry(order_id: uuid.UUID, ctx: BuyerWriter, session: DbSession) -> dict[str, Any]:
    """Expired orders only: a new pending order with the same lines, all of them reserved."""
    return {"data": await lifecycle.retry(session, ctx, order_id)}


@router.post(
    "/vendor/orders/{order_id}/manifest",
    status_code=201,
    response_model=DataResponse[Manifest],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422),
    summary="Generate the transport manifest PDF",
)
@idempotent()
async def generate_manifest(
    order_id: uuid.UUID, ctx: VendorStore, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any vendor member, once the order is ready for dispatch. A new key makes a new current version."""
    return {"data": await manifest.generate(session, ctx, order_id, files)}


@router.get(
    "/orders/{order_id}/manifest",
    response_model=DataResponse[Manifest],
    responses=error_responses(400, 401, 403, 404),
    summary="The current transport manifest (signed download URL)",
)
async def get_manifest(
    order_id: uuid.UUID, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """The buyer or the vendor of the order."""
    return {"data": await manifest.for_store(session, ctx, order_id, files)}


@router.get(
    "/stores/{store_id}/orders",
    response_model=PageEnvelope[BuyerOrderSummary],
    responses=error_responses(400, 401, 403, 404),
    summary="The active buyer's orders with one vendor, with total",
)
async def storefront_orders(
    store_id: uuid.UUID, ctx: BuyerStore, session: DbSession, page: Pages
) -> dict[str, Any]:
    """Newest first; the store must be a vendor (else 400)."""
    return {"data": await service.storefront_orders(session, ctx, store_id, page)}


@router.get(
    "/stores/{store_id}/orders/totals",
    response_model=DataResponse[StorefrontTotals],
    responses=error_responses(400, 401, 403, 404),
    summary="Totals over every order of the active buyer with one vendor",
)
async def storefront_totals(store_id: uuid.UUID, ctx: BuyerStore, session: DbSession) -> dict[str, Any]:
    """All statuses; the store must be a vendor (else 400)."""
    return {"data": await service.storefront_totals(session, ctx, store_id)}
