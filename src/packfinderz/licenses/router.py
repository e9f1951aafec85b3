"""`/api/v1/licenses` (store members) and `/api/admin/v1/licenses` (review queue, decisions)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from packfinderz.auth.deps import AdminUser, StoreContext, StoreCtx, require_store_roles
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.licenses import service
from packfinderz.licenses.repository import AdminLicenseFilters
from packfinderz.licenses.schemas import (
    AdminLicenseDTO,
    LicenseDTO,
    LicenseIn,
    LicenseStatus,
    LicenseType,
    VerifyIn,
)
from packfinderz.media.files import MediaFiles

router = APIRouter(prefix="/api/v1/licenses", tags=["licenses"])
admin_router = APIRouter(prefix="/api/admin/v1/licenses", tags=["admin: licenses"])

Page = Annotated[PageParams, Depends(page_params)]


@router.post(
    "",
    status_code=201,
    response_model=DataResponse[LicenseDTO],
    summary="Submit a license for review (its document must be an uploaded license_doc of this store)",
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: the media is already attached to a license or not uploaded yet; or "
        "IDEMPOTENCY_REQUEST_IN_PROGRESS.",
    ),
)
@idempotent()
async def create_license(
    body: LicenseIn, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any member of the active store. `media_id` must be an uploaded `license_doc` media of this store (a
    PDF or an image; else 400, 409 while still pending); `expiration_date`, when given, must be in the
    future and after `issue_date`. The license starts `pending` and the store's KYC status is recomputed.
    Dates are RFC 3339 timestamps or `YYYY-MM-DD`. Requires `Idempotency-Key`."""
    return {"data": await service.create_license(session, files, ctx.store_id, ctx.actor(), body)}


@router.get(
    "",
    response_model=PageEnvelope[LicenseDTO],
    summary="The store's licenses, newest first",
    responses=error_responses(400, 401, 403),
)
async def list_licenses(
    ctx: StoreContext, session: DbSession, files: MediaFiles, page: Page, status: LicenseStatus | None = None
) -> dict[str, Any]:
    """Any member of the active store; `status` narrows the list."""
    items, cursor = await service.list_licenses(session, files, ctx.store_id, status, page)
    return {"data": {"items": items, "next_cursor": cursor}}


@router.get(
    "/{license_id}",
    response_model=DataResponse[LicenseDTO],
    summary="One license of the store",
    responses=error_responses(400, 401, 403, 404),
)
async def get_license(
    license_id: uuid.UUID, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any member of the active store; another store's license is 404. `document_url` is freshly signed."""
    return {"data": await service.get_license(session, files, ctx.store_id, license_id)}


@router.delete(
    "/{license_id}",
    status_code=204,
    summary="Delete a rejected or expired license (owner, manager)",
    responses=error_responses(400, 401, 403, 404, 409, s409="CONFLICT: only rejected or expired licenses."),
)
async def delete_license(
    license_id: uuid.UUID,
    ctx: Annotated[StoreCtx, require_store_roles("owner", "manager")],
    session: DbSession,
) -> Response:
    """Owner or manager of the active store; pending and verified licenses cannot be deleted (409). The
    document media stays, no longer protected."""
    await service.delete_license(session, ctx.store_id, license_id, ctx.actor())
    return Response(status_code=204)


@admin_router.get(
    "",
    response_model=PageEnvelope[AdminLicenseDTO],
    summary="Licenses of every store, newest first (`sort=oldest` for the review queue), with total",
    responses=error_responses(400, 401, 403),
)
async def admin_list(
    admin: AdminUser,
    session: DbSession,
    files: MediaFiles,
    page: Page,
    *,
    status: LicenseStatus | None = None,
    store_id: uuid.UUID | None = None,
    issuing_state: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    type: LicenseType | None = None,
    sort: Annotated[
        Literal["newest", "oldest"],
        Query(description="`newest` first (the default for lists), or `oldest` first: the review queue."),
    ] = "newest",
) -> dict[str, Any]:
    """With `status=pending&sort=oldest` this is the review queue, the longest-waiting license first."""
    filters = AdminLicenseFilters(
        status=status, store_id=store_id, issuing_state=issuing_state, type=type, sort=sort
    )
    items, cursor, total = await service.admin_list(session, files, filters, page)
    return {"data": {"items": items, "next_cursor": cursor, "total": total}}


@admin_router.get(
    "/{license_id}",
    response_model=DataResponse[AdminLicenseDTO],
    summary="One license with its store and decider",
    responses=error_responses(400, 401, 403, 404),
)
async def admin_get(
    license_id: uuid.UUID, admin: AdminUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Admins. Includes `same_number_licenses`: other submissions of this state and number."""
    return {"data": await service.admin_get(session, files, license_id)}


@admin_router.post(
    "/{license_id}/verify",
    response_model=DataResponse[AdminLicenseDTO],
    summary="Approve or reject a pending license (a reason is required to reject)",
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        s409="CONFLICT: license already finalized, or its number is already verified for another license; "
        "or IDEMPOTENCY_REQUEST_IN_PROGRESS.",
    ),
)
@idempotent()
async def verify(
    license_id: uuid.UUID, body: VerifyIn, admin: AdminUser, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Admins. Decides a `pending` license once (409 afterwards): `verified`, or `rejected` with a
    `reason` (400 without). Only one license per issuing state and number can be verified (409). The
    store's KYC status is recomputed and the store is notified. Requires `Idempotency-Key`."""
    return {"data": await service.verify(session, files, license_id, admin.actor(), body)}
