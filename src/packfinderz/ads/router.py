"""HTTP: vendor ads (`/api/v1/vendor/ads`), serving and tracking (`/api/v1/ads`); money-ads-analytics §2."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import RedirectResponse

from packfinderz.ads import service, serving
from packfinderz.ads.repository import AdFilters
from packfinderz.ads.schemas import (
    AdCreate,
    AdDetail,
    AdDTO,
    AdUpdate,
    ImpressionIn,
    RawToken,
    RequestId,
    ServedAd,
)
from packfinderz.analytics.deps import AppWarehouse
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
    """Owner or manager. Types: hero → store or product; store → store; product → product; the target
    must be the caller's store or one of its active products (400 otherwise)."""
    return {"data": await service.create_ad(session, redis, ctx, body)}


@vendor_router.get(
    "",
    response_model=PageEnvelope[AdDTO],
    responses=error_responses(400, 401, 403),
    summary="The store's ads, newest first (with total)",
)
async def list_ads(
    ctx: VendorStore,
    session: DbSession,
    redis: AppRedis,
    page: Annotated[PageParams, Depends(page_params)],
    *,
    status: AdStatus | None = None,
    placement: Placement | None = None,
    target_type: TargetType | None = None,
    target_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    filters = AdFilters(status=status, placement=placement, target_type=target_type, target_id=target_id)
    items, cursor, total = await service.list_ads(session, redis, ctx, filters, page)
    return {"data": {"items": items, "next_cursor": cursor, "total": total}}


@vendor_router.get(
    "/{ad_id}",
    response_model=DataResponse[AdDetail],
    responses=error_responses(400, 401, 403, 404),
    summary="One ad with its analytics",
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
        str | None, Query(alias="from", max_length=40, description="RFC3339 or YYYY-MM-DD, with `to`.")
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="RFC3339 or YYYY-MM-DD.")] = None,
) -> dict[str, Any]:
    """Daily UTC series of impressions, clicks and spend (rollups, then live counters), with totals."""
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
    """Omitted = unchanged; `starts_at`/`ends_at` null clears; `creatives` replaces them all."""
    return {"data": await service.update_ad(session, redis, ctx, ad_id, body)}


@vendor_router.delete(
    "/{ad_id}",
    status_code=204,
    responses=error_responses(400, 401, 403, 404),
    summary="Archive an ad (idempotent)",
)
async def archive_ad(ad_id: uuid.UUID, ctx: AdWriter, session: DbSession) -> Response:
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
    """Highest bid among the active ads of visible vendors whose next impression fits today's budget;
    `null` when none does (or when the counters are unavailable)."""
    return {"data": await serving.serve(session, redis, settings, ctx, placement)}


@router.post(
    "/impression",
    response_model=DataResponse[None],
    responses=error_responses(400, 401, 403, 503),
    summary="Report that a served ad was shown",
)
async def impression(
    body: ImpressionIn, ctx: BuyerStore, session: DbSession, redis: AppRedis, settings: AppSettings
) -> dict[str, Any]:
    """200 whether or not it was counted (duplicate, over budget, stale or no longer running)."""
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
    destination, _ = await serving.click(session, redis, settings, ctx, raw=token, request_id=request_id)
    return RedirectResponse(destination, status_code=302)
