"""HTTP: billing plans, subscriptions, payment methods, charges, customers, the Square webhook and the
sandbox time simulation (money-ads-analytics.md §1)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from packfinderz.auth.deps import AdminUser, StoreCtx, VendorStore
from packfinderz.billing import service, webhook
from packfinderz.billing.deps import AppDatabase, Billing
from packfinderz.billing.schemas import (
    CHARGE_EXAMPLE,
    PAYMENT_METHOD_EXAMPLE,
    PLAN_EXAMPLE,
    CardIn,
    ChargeDTO,
    CustomerLinked,
    CustomerRepairIn,
    PaymentMethodDTO,
    PaymentMethodPatch,
    PlanDTO,
    PlanFields,
    PlanIn,
    SimulateIn,
    SubscribeIn,
    SubscriptionDTO,
)
from packfinderz.events.outbox import Actor
from packfinderz.kit.appstate import AppRedis, AppSettings
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import Forbidden, Unauthorized, error_body
from packfinderz.kit.idempotency import HEADER, idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CursorQuery,
    PageEnvelope,
    PageParams,
    page_params,
)
from packfinderz.models.billing import ChargeStatus, ChargeType, PlanStatus

WRITER_ROLES = frozenset({"owner", "manager"})
S422 = (
    "STATE_CONFLICT: `store is not linked to a billing customer`, a provider refusal "
    "(`details.provider_code`, e.g. a declined card), or the subscription's state; or IDEMPOTENCY_KEY_REUSED."
)
S503 = (
    "DEPENDENCY_ERROR `{dependency: billing}`: the billing provider is unavailable (our credentials, 429, "
    "5xx, network, timeout); `{dependency: database}` after a compensated provider write."
)


async def _vendor_writer(ctx: VendorStore) -> StoreCtx:
    if ctx.role not in WRITER_ROLES:
        raise Forbidden("insufficient store role")
    return ctx


VendorWriter = Annotated[StoreCtx, Depends(_vendor_writer)]
Pages = Annotated[PageParams, Depends(page_params)]
PlanIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", description="Plan id, e.g. `starter_v1`.")
]


async def _key(request: Request) -> str:
    """The request's Idempotency-Key (validated by @idempotent), from which provider keys derive."""
    return request.headers.get(HEADER, "").strip()


CallerKey = Annotated[str, Depends(_key)]


def _page_example(item: Any) -> dict[int | str, dict[str, Any]]:
    """The 200 example of a list route: one item, no further page."""
    example = {"data": {"items": [item], "next_cursor": None}}
    return {200: {"content": {"application/json": {"example": example}}}}


def _page(items: list[Any], cursor: str | None) -> dict[str, Any]:
    return {"data": {"items": items, "next_cursor": cursor}}


# --- plans ------------------------------------------------------------------------------------------

plans_router = APIRouter(prefix="/api/v1/vendor/billing", tags=["billing"])
admin_router = APIRouter(prefix="/api/admin/v1/billing", tags=["billing admin"])


@plans_router.get(
    "/plans",
    response_model=PageEnvelope[PlanDTO],
    responses={**_page_example(PLAN_EXAMPLE), **error_responses(400, 401, 403)},
    summary="Active plans (default first)",
)
async def vendor_plans(
    ctx: VendorStore,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Any member of a vendor store. The active plans, ordered `is_default DESC, test DESC, name ASC,
    id ASC`; a cursor from another listing is a 400."""
    items, next_cursor = await service.list_plans(
        session, status="active", is_default=None, limit=limit, cursor=cursor or None
    )
    return _page(items, next_cursor)


@plans_router.get(
    "/plans/{plan_id}",
    response_model=DataResponse[PlanDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="One active plan",
)
async def vendor_plan(plan_id: PlanIdPath, ctx: VendorStore, session: DbSession) -> dict[str, Any]:
    """Any member of a vendor store. 404 unless the plan exists and is active; 400 for an id outside
    `^[a-z0-9_]{1,64}$`."""
    return {"data": await service.get_plan(session, plan_id, active_only=True)}


@plans_router.get(
    "/charges",
    response_model=PageEnvelope[ChargeDTO],
    responses={**_page_example(CHARGE_EXAMPLE), **error_responses(400, 401, 403)},
    summary="The store's charges, newest first",
)
async def list_charges(
    ctx: VendorStore,
    session: DbSession,
    page: Pages,
    type: Annotated[ChargeType | None, Query(description="subscription | ad_spend | other")] = None,
    status: Annotated[
        ChargeStatus | None, Query(description="pending | succeeded | failed | refunded")
    ] = None,
) -> dict[str, Any]:
    """Any member of the vendor store; ordered `created_at DESC, id DESC`, optionally filtered by type and
    status."""
    items, cursor = await service.list_charges(session, ctx.store_id, type, status, page)
    return _page(items, cursor)


@admin_router.get(
    "/plans",
    response_model=PageEnvelope[PlanDTO],
    responses={**_page_example(PLAN_EXAMPLE), **error_responses(400, 401, 403)},
    summary="Every plan (filters status, is_default)",
)
async def admin_plans(
    *,
    admin: AdminUser,
    session: DbSession,
    status: Annotated[PlanStatus | None, Query(description="active | deprecated | hidden")] = None,
    is_default: Annotated[
        bool | None, Query(description="Only the default plan (true) or the others.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Admins only. Every plan whatever its status, in the vendor listing's order."""
    items, next_cursor = await service.list_plans(
        session, status=status, is_default=is_default, limit=limit, cursor=cursor or None
    )
    return _page(items, next_cursor)


@admin_router.post(
    "/plans",
    status_code=201,
    response_model=DataResponse[PlanDTO],
    responses=error_responses(400, 401, 403, 409, s409="CONFLICT: the id or provider_plan_id exists."),
    summary="Create a plan",
)
async def create_plan(body: PlanIn, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Admins only. `is_default=true` needs `status: active` (400 otherwise) and clears the flag on every
    other plan in the same transaction; 409 when the id or `provider_plan_id` exists."""
    return {"data": await service.create_plan(session, body)}


@admin_router.patch(
    "/plans/{plan_id}",
    response_model=DataResponse[PlanDTO],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Replace a plan's mutable fields",
)
async def update_plan(
    plan_id: PlanIdPath, body: PlanFields, admin: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Admins only. Every mutable field is required (a full replacement); `is_default=true` needs
    `status: active` (400 otherwise) and clears it on every other plan; 409 when `provider_plan_id`
    belongs to another plan."""
    return {"data": await service.update_plan(session, plan_id, body)}


@admin_router.delete(
    "/plans/{plan_id}",
    status_code=204,
    responses=error_responses(400, 401, 403, 404),
    summary="Soft-delete a plan (hidden, not default)",
)
async def delete_plan(plan_id: PlanIdPath, admin: AdminUser, session: DbSession) -> Response:
    """Admins only. The plan becomes `hidden` and stops being the default; live subscriptions keep it."""
    await service.delete_plan(session, plan_id)
    return Response(status_code=204)


@admin_router.post(
    "/customers",
    status_code=201,
    response_model=DataResponse[CustomerLinked],
    responses={
        200: {"model": DataResponse[CustomerLinked], "description": "An existing customer was linked."},
        **error_responses(400, 401, 403, 404, s503=S503),
    },
    summary="Link a vendor store to its billing customer (repair)",
)
async def repair_customer(
    body: CustomerRepairIn, admin: AdminUser, session: DbSession, provider: Billing
) -> JSONResponse:
    """Admins only. 201 when a customer was created at the provider, 200 when an existing one was linked;
    404 for an unknown store, 400 when it is not a vendor store."""
    customer_id, created = await service.repair_customer(session, provider, body.store_id)
    return JSONResponse({"data": {"billing_customer_id": customer_id}}, status_code=201 if created else 200)


# --- sandbox time simulation (not mounted in prod) ----------------------------------------------------

sandbox_router = APIRouter(prefix="/api/admin/v1/billing/sandbox", tags=["billing admin"])


@sandbox_router.post(
    "/subscriptions/{subscription_id}/simulate",
    response_model=DataResponse[SubscriptionDTO],
    responses=error_responses(400, 401, 403, 404, 422),
    summary="Sandbox provider: advance a subscription in time (non-prod only)",
)
async def simulate(
    *,
    subscription_id: Annotated[
        str, Path(max_length=100, description="Our subscription id or the provider's.")
    ],
    body: SimulateIn,
    admin: AdminUser,
    session: DbSession,
    provider: Billing,
    database: AppDatabase,
    settings: AppSettings,
) -> dict[str, Any]:
    """renew | payment_failed | cancel_effective | pause_effective | resume_effective, then the webhook's
    charge and sync path. 404 with the square provider."""
    return {
        "data": await webhook.simulate(
            session, provider, settings=settings, subscription_ref=subscription_id, event=body.event
        )
    }


# --- subscriptions ------------------------------------------------------------------------------------

subscriptions_router = APIRouter(prefix="/api/v1/vendor/subscriptions", tags=["billing"])


def _actor(ctx: StoreCtx) -> Actor:
    return ctx.actor()


@subscriptions_router.get(
    "",
    response_model=DataResponse[SubscriptionDTO | None],
    responses=error_responses(401, 403),
    summary="The live subscription after a provider sync, or null",
)
async def get_subscription(
    ctx: VendorWriter, session: DbSession, provider: Billing, settings: AppSettings
) -> dict[str, Any]:
    """Owner or manager of a vendor store. Synchronises the live subscription with the provider first;
    `data` is null when the store has none."""
    return {"data": await service.current_subscription(session, provider, settings, ctx.store_id)}


@subscriptions_router.post(
    "",
    status_code=201,
    response_model=DataResponse[SubscriptionDTO],
    responses={
        200: {
            "model": DataResponse[SubscriptionDTO],
            "description": "An entitled subscription already exists.",
        },
        **error_responses(
            400,
            401,
            403,
            404,
            409,
            422,
            s409="CONFLICT `subscription is paused; resume it`, or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
            s422=S422,
            s503=S503,
        ),
    },
    summary="Subscribe the store (plan and card default to the defaults)",
)
@idempotent("critical")
async def create_subscription(
    *,
    body: SubscribeIn,
    key: CallerKey,
    ctx: VendorWriter,
    session: DbSession,
    provider: Billing,
    settings: AppSettings,
) -> JSONResponse:
    """Owner or manager; requires `Idempotency-Key`. Omitted `plan_id` = the default plan (400 when the
    plan is not active, or none is given and there is no default); omitted `payment_method_id` = the
    default card (400 when the store has none; 404 for a card that is not the store's). Steps of
    money-ads-analytics.md §1.4; a compensated failure leaves no live provider object."""
    created = await service.create_subscription(
        session,
        provider,
        settings=settings,
        store=ctx.store,
        actor=_actor(ctx),
        body=body,
        http_key=key,
    )
    return JSONResponse(
        {"data": created.subscription.model_dump(mode="json")}, status_code=201 if created.created else 200
    )


@subscriptions_router.post(
    "/cancel",
    response_model=DataResponse[SubscriptionDTO | None],
    responses=error_responses(400, 401, 403, 409, 422, s422=S422, s503=S503),
    summary="Cancel at the end of the paid period (null without a live subscription)",
)
@idempotent("critical")
async def cancel_subscription(
    ctx: VendorWriter, session: DbSession, provider: Billing, settings: AppSettings
) -> dict[str, Any]:
    """Owner or manager; requires `Idempotency-Key`; no body. Access continues to the end of the paid
    period; the flag flips when the provider reports it."""
    return {"data": await service.cancel_subscription(session, provider, settings, ctx.store_id, _actor(ctx))}


@subscriptions_router.post(
    "/pause",
    response_model=DataResponse[SubscriptionDTO],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422, s503=S503),
    summary="Pause at the end of the paid period",
)
@idempotent("critical")
async def pause_subscription(
    ctx: VendorWriter, session: DbSession, provider: Billing, settings: AppSettings
) -> dict[str, Any]:
    """Owner or manager; requires `Idempotency-Key`; no body. 404 without a live subscription; 422 unless
    active or trialing."""
    return {"data": await service.pause_subscription(session, provider, settings, ctx.store_id, _actor(ctx))}


@subscriptions_router.post(
    "/resume",
    response_model=DataResponse[SubscriptionDTO],
    responses=error_responses(400, 401, 403, 404, 409, 422, s422=S422, s503=S503),
    summary="Undo a pending cancel or pause; resume a paused subscription",
)
@idempotent("critical")
async def resume_subscription(
    ctx: VendorWriter, session: DbSession, provider: Billing, settings: AppSettings
) -> dict[str, Any]:
    """Owner or manager; requires `Idempotency-Key`; no body. 404 without a live subscription; with
    nothing to undo or resume it answers the synced subscription unchanged."""
    return {"data": await service.resume_subscription(session, provider, settings, ctx.store_id, _actor(ctx))}


# --- payment methods ----------------------------------------------------------------------------------

methods_router = APIRouter(prefix="/api/v1/vendor/payment-methods", tags=["billing"])


@methods_router.post(
    "/cc",
    status_code=201,
    response_model=DataResponse[PaymentMethodDTO],
    responses=error_responses(400, 401, 403, 409, 422, s422=S422, s503=S503),
    summary="Add a card from a Web Payments SDK token",
)
@idempotent("critical")
async def add_card(
    body: CardIn, key: CallerKey, ctx: VendorWriter, session: DbSession, provider: Billing
) -> dict[str, Any]:
    """Owner or manager; requires `Idempotency-Key`. The first card (or `is_default`) becomes the default;
    a sandbox `source_id` starting `sbx-decline` is declined (422); 409 when the provider's card already
    belongs to another store."""
    return {
        "data": await service.add_card(
            session, provider, store=ctx.store, actor=_actor(ctx), body=body, http_key=key
        )
    }


@methods_router.get(
    "",
    response_model=PageEnvelope[PaymentMethodDTO],
    responses={**_page_example(PAYMENT_METHOD_EXAMPLE), **error_responses(400, 401, 403)},
    summary="The store's cards, newest first",
)
async def list_cards(ctx: VendorWriter, session: DbSession, page: Pages) -> dict[str, Any]:
    """Owner or manager of a vendor store; newest first."""
    items, cursor = await service.list_cards(session, ctx.store_id, page)
    return _page(items, cursor)


@methods_router.patch(
    "/{method_id}",
    response_model=DataResponse[PaymentMethodDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="Make a card the default (or not)",
)
async def patch_card(
    method_id: uuid.UUID, body: PaymentMethodPatch, ctx: VendorWriter, session: DbSession
) -> dict[str, Any]:
    """Owner or manager. `true` clears the flag on the store's other cards; 404 unless the card is the
    store's."""
    return {"data": await service.set_default(session, ctx.store_id, method_id, body.is_default)}


@methods_router.delete(
    "/{method_id}",
    status_code=204,
    responses=error_responses(
        400, 401, 403, 404, 409, s409="CONFLICT `card in use by subscription`.", s503=S503
    ),
    summary="Remove a card (the newest remaining becomes default)",
)
async def delete_card(
    method_id: uuid.UUID, ctx: VendorWriter, session: DbSession, provider: Billing
) -> Response:
    """Owner or manager. Disabled at the provider; 409 while the live subscription charges it."""
    await service.delete_card(session, provider, ctx.store_id, method_id, _actor(ctx))
    return Response(status_code=204)


# --- Square webhook (mounted with provider square) ------------------------------------------------------

webhook_router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@webhook_router.post(
    "/square",
    response_model=DataResponse[None],
    responses={
        200: {"content": {"application/json": {"example": {"data": None}}}},
        **error_responses(400, 401, 409, s409="The same event is being processed; Square retries."),
        413: {"description": "Body over 1 MiB."},
    },
    summary="Square events (signature-authenticated)",
)
async def square_webhook(
    request: Request, redis: AppRedis, settings: AppSettings, provider: Billing, database: AppDatabase
) -> JSONResponse:
    """Square only (no bearer token): HMAC-SHA256 over the registered URL + raw body in
    `x-square-hmacsha256-signature` (401 otherwise); deduped by `event_id`; re-fetches subscriptions.
    Mounted only with the square provider."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > webhook.MAX_BODY_BYTES:
        return JSONResponse(error_body("PAYLOAD_TOO_LARGE", "body too large"), status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > webhook.MAX_BODY_BYTES:
            return JSONResponse(error_body("PAYLOAD_TOO_LARGE", "body too large"), status_code=413)
    key = (
        settings.square_webhook_signature_key.get_secret_value()
        if settings.square_webhook_signature_key
        else ""
    )
    if not webhook.signature_valid(
        key, settings.square_webhook_url or "", body, request.headers.get("x-square-hmacsha256-signature")
    ):
        raise Unauthorized("invalid signature")
    event = webhook.parse_event(body)
    status, _ = await webhook.handle(database, redis, provider, settings, event)
    if status == 409:
        return JSONResponse(error_body("CONFLICT", "event is being processed"), status_code=409)
    if status == 503:
        return JSONResponse(
            error_body("DEPENDENCY_ERROR", "dependency unavailable", {"dependency": "billing"}),
            status_code=503,
        )
    return JSONResponse({"data": None}, status_code=200)
