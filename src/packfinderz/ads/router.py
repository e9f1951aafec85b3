"""HTTP: vendor ads (`/api/v1/vendor/ads`), serving and tracking (`/api/v1/ads`); money-ads-analytics §2."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import RedirectResponse

from packfinderz.ads import service, serving
from packfinderz.ads.repository import AdFilters
from packfinderz.ads.schemas import (
    AD_EXAMPLE,
    AdCreate,
    AdDetail,
    AdDTO,
    AdUpdate,
    ImpressionIn,
    RawToken,
    RequestId,
    ServedAd,
)
from packfinderz.analytics.deps import BOUND_DESCRIPTION, BOUND_PATTERN, RANGE_RULES, AppWarehouse
from packfinderz.auth.deps import BuyerStore, StoreCtx, VendorStore
from packfinderz.kit.appstate import AppRedis, AppSettings
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import Forbidden
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.models.ads import AdStatus, Placement, TargetType

vendor_router = APIRouter(prefix="/api/v1/vendor/ads", tags=["ads"])
router = APIRouter(prefix="/api/v1/ads", tags=["ads"])

WRITER_ROLES = frozenset({"owner", "manager"})


async def _ad_writer(ctx: VendorStore) -> StoreCtx:
    """A vendor member allowed to write ads: owner or manager (money-ads-analytics.md §0)."""
    if ctx.role not in WRITER_ROLES:
        raise Forbidden("insufficient store role")
    return ctx


AdWriter = Annotated[StoreCtx, Depends(_ad_writer)]


@vendor_router.post(
    "",
    status_code=201,
    response_model=DataResponse[AdDTO],
    responses=error_responses(
        400,
        401,
        403,
        409,
        422,
        s409="CONFLICT: `media not ready`.",
        s422="STATE_CONFLICT: activation needs subscription and verified KYC.",
    ),
    summary="Create an ad with 1-5 creatives",
)
@idempotent()
async def create_ad(body: AdCreate, ctx: AdWriter, session: DbSession, redis: AppRedis) -> dict[str, Any]:
    """Owner or manager; optional `Idempotency-Key`. Types: hero → store or product; store → store;
    product → product; the target must be the caller's store or one of its active products, and each
    `media_id` the store's own media of kind `ads` (400 otherwise; 409 while not uploaded yet);
    `ends_at` not before `starts_at` (400). `status: active` needs an active subscription and verified
    KYC (422)."""
    return {"data": await service.create_ad(session, redis, ctx, body)}


@vendor_router.get(
    "",
    response_model=PageEnvelope[AdDTO],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"data": {"items": [AD_EXAMPLE], "next_cursor": None, "total": 1}}
                }
            }
        },
        **error_responses(400, 401, 403),
    },
    summary="The store's ads, newest first (with total)",
)
async def list_ads(
    ctx: VendorStore,
    session: DbSession,
    redis: AppRedis,
    page: Annotated[PageParams, Depends(page_params)],
    *,
    status: Annotated[AdStatus | None, Query(description="Only ads in this status.")] = None,
    placement: Annotated[Placement | None, Query(description="Only ads of this placement.")] = None,
    target_type: Annotated[
        TargetType | None, Query(description="Only ads targeting a store or a product.")
    ] = None,
    target_id: Annotated[
        uuid.UUID | None, Query(description="Only ads targeting this store or product.")
    ] = None,
) -> dict[str, Any]:
    """Any member of a vendor store; ordered `created_at DESC, id DESC`; `total` counts every ad matching
    the filters."""
    filters = AdFilters(status=status, placement=placement, target_type=target_type, target_id=target_id)
    items, cursor, total = await service.list_ads(session, redis, ctx, filters, page)
    return {"data": {"items": items, "next_cursor": cursor, "total": total}}


@vendor_router.get(
    "/{ad_id}",
    response_model=DataResponse[AdDetail],
    responses=error_responses(400, 401, 403, 404),
    summary="One ad with its analytics",
    description="Any member of the vendor store that owns the ad (404 otherwise). Daily UTC series of "
    "impressions, clicks and spend (rollups, then live counters), with totals. " + RANGE_RULES,
)
async def ad_detail(
    ad_id: uuid.UUID,
    *,
    ctx: VendorStore,
    session: DbSession,
    redis: AppRedis,
    settings: AppSettings,
    warehouse: AppWarehouse,
    preset: Annotated[Literal["7d", "30d", "90d"] | None, Query(description="Default 30d.")] = None,
    start: Annotated[
        str | None,
        Query(alias="from", max_length=40, pattern=BOUND_PATTERN, description=BOUND_DESCRIPTION),
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", max_length=40, pattern=BOUND_PATTERN, description=BOUND_DESCRIPTION)
    ] = None,
) -> dict[str, Any]:
    # The description (with the range rules) is on the decorator.
    detail = await service.ad_detail(
        session,
        redis,
        ctx,
        ad_id,
        preset=preset,
        start=start,
        end=end,
        tz_name=settings.analytics_tz,
        warehouse=warehouse,
    )
    return {"data": detail}


@vendor_router.patch(
    "/{ad_id}",
    response_model=DataResponse[AdDTO],
    responses=error_responses(
        400, 401, 403, 404, 409, 422, s422="STATE_CONFLICT: lifecycle refused, or the ad is expired/archived."
    ),
    summary="Change an ad's status, bid, budget, window or creatives",
)
async def update_ad(
    ad_id: uuid.UUID, body: AdUpdate, ctx: AdWriter, session: DbSession, redis: AppRedis
) -> dict[str, Any]:
    """Owner or manager. Omitted = unchanged; `starts_at`/`ends_at` null clears, the other fields refuse
    null (400); the resulting window must not end before it starts (400, judged with the stored value of
    an omitted bound); `creatives` replaces them all (same media rules as create). 422 for a refused
    lifecycle step: draft → active, paused → active (needs subscription and KYC), active → paused only;
    expired or archived ads are read-only."""
    return {"data": await service.update_ad(session, redis, ctx, ad_id, body)}


@vendor_router.delete(
    "/{ad_id}",
    status_code=204,
    responses=error_responses(400, 401, 403, 404),
    summary="Archive an ad (idempotent)",
)
async def archive_ad(ad_id: uuid.UUID, ctx: AdWriter, session: DbSession) -> Response:
    """Owner or manager; archiving an archived ad is a 204 too. An archived ad is read-only and never
    served again."""
    await service.archive_ad(session, ctx, ad_id)
    return Response(status_code=204)


# --- buyers ------------------------------------------------------------------------------------------


@router.get(
    "/serve",
    response_model=DataResponse[ServedAd | None],
    responses=error_responses(400, 401, 403),
    summary="The ad to show in a placement, or null",
)
async def serve(
    placement: Annotated[Placement, Query()],
    ctx: BuyerStore,
    session: DbSession,
    redis: AppRedis,
    settings: AppSettings,
) -> dict[str, Any]:
    """Buyer stores only. Highest bid among the active ads of visible vendors whose next impression fits
    today's budget; `null` when none does (or when the counters are unavailable). The tokens are valid for
    this buyer and this `request_id` only."""
    return {"data": await serving.serve(session, redis, settings, ctx, placement)}


@router.post(
    "/impression",
    response_model=DataResponse[None],
    responses={
        200: {"content": {"application/json": {"example": {"data": None}}}},
        **error_responses(400, 401, 403, 503),
    },
    summary="Report that a served ad was shown",
)
async def impression(
    body: ImpressionIn, ctx: BuyerStore, session: DbSession, redis: AppRedis, settings: AppSettings
) -> dict[str, Any]:
    """Buyer stores only. 400 unless `view_token` is a valid, unexpired view token of this buyer issued with
    this `request_id` (signature cannot be checked by schema). 200 whether or not it was counted
    (duplicate, over budget, stale or no longer running); 503 when the counters are unavailable."""
    await serving.impression(
        session, redis, settings, ctx, view_token=body.view_token, request_id=body.request_id
    )
    return {"data": None}


@router.get(
    "/click",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "Redirect to the creative's destination."},
        **error_responses(400, 401, 403),
    },
    summary="Follow a served ad (counted once per request)",
)
async def click(
    *,
    token: Annotated[RawToken, Query()],
    request_id: Annotated[RequestId, Query()],
    ctx: BuyerStore,
    session: DbSession,
    redis: AppRedis,
    settings: AppSettings,
) -> RedirectResponse:
    """Buyer stores only. 400 unless `token` is a valid, unexpired click token of this buyer issued with
    this `request_id`; the redirect goes to the creative's `destination_url` whether or not the click was
    counted (once per request)."""
    destination, _ = await serving.click(session, redis, settings, ctx, raw=token, request_id=request_id)
    return RedirectResponse(destination, status_code=302)
