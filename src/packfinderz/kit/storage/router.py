"""`/api/storage/v1/*`: the local adapter's signed upload/download routes and the public read route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import NotFound
from packfinderz.kit.storage.base import object_response_headers
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.kit.storage.uploads import open_public, open_signed, receive_upload, upload_hook

router = APIRouter(prefix="/api/storage/v1", tags=["storage"])

_SIGNED: dict[int | str, dict[str, Any]] = {403: {"description": "FORBIDDEN: tampered or expired signature"}}


class StoredObject(BaseModel):
    storage_key: str
    size_bytes: int
    content_type: str


class StoredObjectEnvelope(BaseModel):
    data: StoredObject


def _local(request: Request) -> LocalStorage:
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound()  # the gcs adapter serves its own URLs
    return storage


@router.put(
    "/upload/{key:path}",
    status_code=201,
    response_model=StoredObjectEnvelope,
    summary="Upload an object through a signed URL (local adapter)",
    responses={
        **_SIGNED,
        400: {"description": "content type differs from the signed one, or a malformed key"},
        409: {"description": "the upload was already confirmed"},
        413: {"description": "body larger than the signed size"},
    },
)
async def upload(
    key: str,
    request: Request,
    session: DbSession,
    *,
    content_type: str | None = None,
    max_bytes: str | None = None,
    expires: str | None = None,
    sig: str | None = None,
) -> dict[str, Any]:
    info = await receive_upload(
        _local(request),
        upload_hook(request.app),
        session,
        key,
        query=request.query_params,
        headers=request.headers,
        body=request.stream(),
    )
    return {"data": {"storage_key": key, "size_bytes": info.size, "content_type": info.content_type}}


@router.get(
    "/objects/{key:path}",
    response_class=FileResponse,
    summary="Read an object through a signed URL (local adapter)",
    responses={**_SIGNED, 404: {"description": "no such object"}},
)
async def read_signed(
    key: str, request: Request, *, expires: str | None = None, sig: str | None = None
) -> Any:
    path, content_type = await open_signed(_local(request), key, request.query_params)
    media_type, headers = object_response_headers(content_type)
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get(
    "/public/{key:path}",
    response_class=FileResponse,
    summary="Read an object of a public media kind (local adapter)",
    responses={404: {"description": "no such object, or a private kind"}},
)
async def read_public(key: str, request: Request) -> Any:
    path, content_type = await open_public(_local(request), key)
    media_type, headers = object_response_headers(content_type)
    return FileResponse(
        path, media_type=media_type, headers={**headers, "Cache-Control": "public, max-age=86400"}
    )
