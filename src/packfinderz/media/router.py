"""`/api/v1/media`: presign uploads, list, read, finalize and delete the store's media (identity.md §11.5)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from packfinderz.auth.deps import StoreContext
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.media import service
from packfinderz.media.files import MediaFiles
from packfinderz.media.repository import MediaFilters
from packfinderz.media.schemas import MediaDTO, PresignIn, PresignOut

router = APIRouter(prefix="/api/v1/media", tags=["media"])

MediaKind = Literal["product", "ads", "pdf", "license_doc", "coa", "manifest", "user", "store", "other"]
MediaStatus = Literal["pending", "uploaded", "failed"]


@router.post(
    "/presign",
    status_code=201,
    response_model=DataResponse[PresignOut],
    summary="Create a pending media row and a signed upload URL",
    responses=error_responses(400, 401, 403, 409, 422),
)
@idempotent()
async def presign(
    body: PresignIn, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
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
    return {"data": await service.get_media(session, files, ctx.store_id, media_id)}


@router.post(
    "/{media_id}/finalize",
    response_model=DataResponse[MediaDTO],
    summary="Confirm a pending upload once the object is in storage",
    responses=error_responses(400, 401, 403, 404, s409="CONFLICT: the object is not in storage yet."),
)
async def finalize(
    media_id: uuid.UUID, ctx: StoreContext, session: DbSession, files: MediaFiles
) -> dict[str, Any]:
    return {"data": await service.finalize(session, files, ctx.store_id, media_id)}


@router.delete(
    "/{media_id}",
    status_code=204,
    summary="Delete a media and detach it (refused while a license, ad or manifest uses it)",
    responses=error_responses(400, 401, 403, 404, s409="CONFLICT: the media has protected attachments."),
)
async def delete_media(media_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> Response:
    await service.delete_media(session, ctx.store_id, media_id, ctx.actor())
    return Response(status_code=204)
