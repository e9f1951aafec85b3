"""`/api/admin/v1/stores`: list, inspect and manage stores (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from packfinderz.admin import service
from packfinderz.admin.repository import StoreFilters
from packfinderz.admin.schemas import AdminStoreDTO, AdminStorePatch
from packfinderz.auth.deps import AdminUser
from packfinderz.kit.db import DbSession
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.media.files import MediaFiles
from packfinderz.stores.schemas import KycStatus, StoreDTO, StoreType

router = APIRouter(prefix="/api/admin/v1/stores", tags=["admin: stores"])


@router.get(
    "",
    response_model=PageEnvelope[StoreDTO],
    summary="Every store, newest first, with total",
    responses=error_responses(400, 401, 403),
)
async def list_stores(
    admin: AdminUser,
    session: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    *,
    kyc_status: KycStatus | None = None,
    type: StoreType | None = None,
    subscription_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Company or DBA name substring.")] = None,
) -> dict[str, Any]:
    """Admins; filters combine; `total` counts every match."""
    filters = StoreFilters(kyc_status=kyc_status, type=type, subscription_active=subscription_active, q=q)
    items, cursor, total = await service.list_stores(session, filters, page)
    return {"data": {"items": items, "next_cursor": cursor, "total": total}}


@router.get(
    "/{store_id}",
    response_model=DataResponse[AdminStoreDTO],
    summary="One store with its subscription override, members and licenses",
    responses=error_responses(400, 401, 403, 404),
)
async def get_store(
    store_id: uuid.UUID, admin: AdminUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Admins; 404 when the store does not exist. Members include pending invitations."""
    return {"data": await service.get_store(session, files, store_id)}


@router.patch(
    "/{store_id}",
    response_model=DataResponse[AdminStoreDTO],
    summary="Suspend or reinstate, override subscription_active, set the badge (reason required)",
    responses=error_responses(
        400,
        401,
        403,
        404,
        s400="VALIDATION_ERROR: no change field, `suspended: null`, `subscription_active` on a buyer store, "
        "or invalid values.",
    ),
)
async def patch_store(
    store_id: uuid.UUID, body: AdminStorePatch, admin: AdminUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Admins. At least one of `suspended`, `subscription_active`, `badge`, and always a `reason`.
    `suspended: true` sets the KYC status `suspended`, `false` recomputes it from the licenses;
    `subscription_active` (vendor stores only) overrides billing, `null` clears the override; `badge: null`
    removes the badge. Unchanged values are no-ops; changes are audited (`store.admin_override`) and a
    suspension change notifies the store."""
    return {"data": await service.patch_store(session, files, store_id, admin.actor(), body)}
