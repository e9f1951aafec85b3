"""`/api/v1/media`: presign uploads, list, read, finalize and delete the store's media (identity.md §11.5)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from packfinderz.auth.deps import StoreContext
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.media import service
from packfinderz.media.files import MediaFiles
from packfinderz.media.repository import MediaFilters
from packfinderz.media.schemas import MediaDTO, MediaKind, MediaStatus, PresignIn, PresignOut

router = APIRouter(prefix="/api/v1/media", tags=["media"])


@router.post(
    "/presign",
    status_code=201,
    response_model=DataResponse[PresignOut],
    summary="Create a pending media row and a signed upload URL",
    responses=error_responses(
        400,
        401,
        403,
        409,
        422,
        s400="VALIDATION_ERROR, checked in this order: `media_kind`, a blank `file_name`, `size_bytes` "
        "beyond 1..PACKFINDERZ_MAX_UPLOAD_MB, a `mime_type` the kind does not accept.",
        s409="IDEMPOTENCY_REQUEST_IN_PROGRESS.",
        s503="DEPENDENCY_ERROR: the storage cannot sign the upload (nothing is created).",
    ),
)
@idempotent()
async def presign(
    body: PresignIn, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any member of the active store. Creates a `pending` media and a signed URL: upload the file with
    `upload_method` to `upload_url`, sending exactly `upload_headers`, before `expires_at`. The kind decides
    the accepted MIME types: images for product, ads, store and user (and mp4/webm video for product and
    ads); PDF for coa, pdf and manifest; PDF or images for license_doc; PDF, office documents, text or
    images for other. `size_bytes` is at most PACKFINDERZ_MAX_UPLOAD_MB (default 20 MB). Product, ads,
    store, user and coa media are public once uploaded; the others are read through signed URLs.
    Requires `Idempotency-Key`."""
    result = await service.presign(session, files, store_id=ctx.store_id, user_id=ctx.user_id, body=body)
    return {"data": result}


@router.get(
    "",
    response_model=PageEnvelope[MediaDTO],
    summary="The store's media, newest first (with total)",
    responses=error_responses(400, 401, 403),
)
async def list_media(
    ctx: StoreContext,
    session: DbSession,
    files: MediaFiles,
    page: Annotated[PageParams, Depends(page_params)],
    *,
    kind: MediaKind | None = None,
    status: MediaStatus | None = None,
    mime_type: Annotated[str | None, Query(max_length=255)] = None,
    search: Annotated[str | None, Query(max_length=255, description="File-name substring.")] = None,
) -> dict[str, Any]:
    """Any member of the active store; filters combine; `total` counts every match. `url` is set once the
    media is uploaded (public, or signed for a private kind)."""
    filters = MediaFilters(kind=kind, status=status, mime_type=mime_type, search=search)
    items, cursor, total = await service.list_media(session, files, ctx.store_id, filters, page)
    return {"data": {"items": items, "next_cursor": cursor, "total": total}}


@router.get(
    "/{media_id}",
    response_model=DataResponse[MediaDTO],
    summary="One media of the store (poll after a gcs upload)",
    responses=error_responses(400, 401, 403, 404),
)
async def get_media(
    media_id: uuid.UUID, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any member of the active store; another store's media is 404. Poll it after a direct (gcs) upload
    until `status` is `uploaded`."""
    return {"data": await service.get_media(session, files, ctx.store_id, media_id)}


@router.post(
    "/{media_id}/finalize",
    response_model=DataResponse[MediaDTO],
    summary="Confirm a pending upload once the object is in storage",
    responses=error_responses(400, 401, 403, 404, 409, s409="CONFLICT: the object is not in storage yet."),
)
async def finalize(
    media_id: uuid.UUID, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    """Any member of the active store. Checks the object in storage and marks the media `uploaded`
    (a no-op once it is not `pending`); 409 while the object is not there. The local adapter's upload
    route finalizes by itself."""
    return {"data": await service.finalize(session, files, ctx.store_id, media_id)}


@router.delete(
    "/{media_id}",
    status_code=204,
    summary="Delete a media and detach it (refused while a license, ad or manifest uses it)",
    responses=error_responses(400, 401, 403, 404, 409, s409="CONFLICT: the media has protected attachments."),
)
async def delete_media(media_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> Response:
    """Any member of the active store. Detaches the media from products, store logo/banner and the like,
    then deletes it (the stored object is removed by the worker); 409 while a license, an ad or an order
    manifest uses it."""
    await service.delete_media(session, ctx.store_id, media_id, ctx.actor())
    return Response(status_code=204)
