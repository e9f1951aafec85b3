"""`/api/storage/v1/*`: the local adapter's signed upload/download routes and the public read route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict

from packfinderz.kit.db import DbSession
from packfinderz.kit.errors import NotFound
from packfinderz.kit.openapi import error_responses
from packfinderz.kit.storage.base import MEDIA_KINDS, object_response_headers
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.kit.storage.uploads import open_public, open_signed, receive_upload, upload_hook

router = APIRouter(prefix="/api/storage/v1", tags=["storage"])

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The shape parse_key accepts (kit/storage/base.py): `{store_id}/{kind}/{media_id}[.{ext}]`.
KEY_PATTERN = rf"^{_UUID}/({'|'.join(MEDIA_KINDS)})/{_UUID}(\.[a-z0-9]{{1,16}})?$"
_KEY_EXAMPLE = "4f65fc91-bc1b-44be-8798-55ff85b0d1b5/product/7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b.jpg"
# Checked by parse_key (400 with its own message); the pattern states the rule in the document.
Key = Annotated[
    str,
    Path(
        description="`{store_id}/{kind}/{media_id}[.{ext}]`, as returned by presign.",
        examples=[_KEY_EXAMPLE],
        json_schema_extra={"pattern": KEY_PATTERN},
    ),
]
SignedParam = Annotated[str | None, Query(description="Part of the signed URL; copy it unchanged.")]
_MALFORMED = "VALIDATION_ERROR: a malformed key (`details.key`)."
_SIGNATURE = "FORBIDDEN: a missing, tampered or expired signature."
_UNAVAILABLE = "DEPENDENCY_ERROR: the storage (`details.dependency: storage`) is unavailable."


class StoredObject(BaseModel):
    storage_key: str
    size_bytes: int
    content_type: str


class StoredObjectEnvelope(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"data": {"storage_key": _KEY_EXAMPLE, "size_bytes": 482133, "content_type": "image/jpeg"}}
            ]
        }
    )

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
        **error_responses(
            400,
            403,
            404,
            409,
            s400="VALIDATION_ERROR: a malformed key, or a Content-Type other than the signed one.",
            s403=_SIGNATURE,
            s404="NOT_FOUND: no pending media for this key, or the gcs adapter is in use.",
            s409="CONFLICT: the upload was already confirmed.",
            s503=_UNAVAILABLE,
        ),
        413: {"description": "PAYLOAD_TOO_LARGE: the body is larger than the signed size."},
    },
)
async def upload(
    key: Key,
    request: Request,
    session: DbSession,
    *,
    content_type: SignedParam = None,
    max_bytes: SignedParam = None,
    expires: SignedParam = None,
    sig: SignedParam = None,
) -> dict[str, Any]:
    """The `upload_url` of presign, sent with `upload_method` and exactly `upload_headers`: the body is the
    file (any bytes), `Content-Type` the signed one, at most the signed size. Only with the local storage
    adapter; no bearer token (the signature authorizes)."""
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
    responses={
        200: {"description": "The object's bytes.", "content": {"application/octet-stream": {}}},
        **error_responses(
            400,
            403,
            404,
            s400=_MALFORMED,
            s403=_SIGNATURE,
            s404="NOT_FOUND: no such object.",
            s503=_UNAVAILABLE,
        ),
    },
)
async def read_signed(
    key: Key, request: Request, *, expires: SignedParam = None, sig: SignedParam = None
) -> Any:
    """A signed download URL (a private media's `url`). Served with its stored type (else
    application/octet-stream), `nosniff` and a sandboxing CSP; images and PDF inline, others as attachments.
    No bearer token (the signature authorizes)."""
    path, content_type = await open_signed(_local(request), key, request.query_params)
    media_type, headers = object_response_headers(content_type)
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get(
    "/public/{key:path}",
    response_class=FileResponse,
    summary="Read an object of a public media kind (local adapter)",
    responses={
        200: {"description": "The object's bytes.", "content": {"application/octet-stream": {}}},
        **error_responses(
            400,
            404,
            s400=_MALFORMED,
            s404="NOT_FOUND: no such object, or a private kind (license_doc, pdf, manifest, other).",
            s503=_UNAVAILABLE,
        ),
    },
)
async def read_public(key: Key, request: Request) -> Any:
    """Objects of the public kinds (product, ads, store, user, coa), cacheable for a day. No
    authentication."""
    path, content_type = await open_public(_local(request), key)
    media_type, headers = object_response_headers(content_type)
    return FileResponse(
        path, media_type=media_type, headers={**headers, "Cache-Control": "public, max-age=86400"}
    )
