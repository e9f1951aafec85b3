"""HTTP: marketplace and vendor dashboards (money-ads-analytics.md §3.6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from packfinderz.analytics import service
from packfinderz.analytics.deps import RANGE_RULES, AppWarehouse, RequestedRange
from packfinderz.analytics.repository import Perspective
from packfinderz.analytics.schemas import MarketplaceReport
from packfinderz.auth.deps import StoreContext, VendorStore
from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import Forbidden
from packfinderz.kit.openapi import DataResponse, error_responses

router = APIRouter(prefix="/api/v1", tags=["analytics"])

_RANGE_400 = (
    "VALIDATION_ERROR: only one of from/to, to ≤ from, span > 366 days, preset combined with from/to, "
    "unknown preset, or an unparsable date."
)


@router.get(
    "/analytics/marketplace",
    response_model=DataResponse[MarketplaceReport],
    responses=error_responses(400, 401, 403, 503, s400=_RANGE_400),
    summary="The active store's marketplace KPIs, series and top lists (vendor or buyer perspective)",
    description="Any member of any store: a vendor store sees what it sold, a buyer store what it bought. "
    "Series are zero-filled buckets in ANALYTICS_TZ. " + RANGE_RULES + " 503 when the warehouse is "
    "unavailable.",
)
async def marketplace(
    ctx: StoreContext, session: DbSession, warehouse: AppWarehouse, r: RequestedRange
) -> dict[str, Any]:
    perspective: Perspective = "vendor" if ctx.store_type == "vendor" else "buyer"
    return {"data": await service.marketplace_report(session, warehouse, ctx.store_id, perspective, r)}


@router.get(
    "/vendor/analytics",
    response_model=DataResponse[MarketplaceReport],
    responses=error_responses(
        400, 401, 403, 503, s400=_RANGE_400, s403="FORBIDDEN: not a vendor store, or no active subscription."
    ),
    summary="The vendor dashboard (vendor perspective); needs an active subscription",
    description="Any member of a vendor store with an active subscription (403 otherwise). Series are "
    "zero-filled buckets in ANALYTICS_TZ. " + RANGE_RULES + " 503 when the warehouse is unavailable.",
)
async def vendor_analytics(
    ctx: VendorStore, session: DbSession, warehouse: AppWarehouse, r: RequestedRange
) -> dict[str, Any]:
    if not ctx.subscription_active:
        raise Forbidden("an active subscription is required for analytics")
    return {"data": await service.marketplace_report(session, warehouse, ctx.store_id, "vendor", r)}
