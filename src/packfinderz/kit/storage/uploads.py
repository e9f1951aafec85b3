"""The local adapter's signed upload and download flows, and the upload-confirmation hook.

Storage knows nothing about media: the media module installs an `UploadHook` on the app, and the
upload route calls it around the moment the object becomes visible (identity.md §11.3).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from pathlib import Path
from typing import Protocol

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.errors import NotFound, ValidationFailed
from packfinderz.kit.storage.base import ObjectInfo, PayloadTooLarge, Storage, StorageKey, parse_key
from packfinderz.kit.storage.local import LocalStorage

log = structlog.get_logger("storage")


class UploadHook(Protocol):
    """What the owner of uploads (media) does in the upload request's transaction."""

    async def before_commit(self, session: AsyncSession, key: StorageKey) -> None:
        """Lock the row tracking `key`; raise (e.g. 404 unknown, 409 finalized) to refuse the upload."""

    async def after_commit(
        self, session: AsyncSession, storage: Storage, key: StorageKey, info: ObjectInfo
    ) -> None:
        """Confirm the stored object (pending -> uploaded)."""


def install_upload_hook(app: FastAPI, hook: UploadHook) -> None:
    """Make the local upload route call `hook` for every signed upload."""
    app.state.storage_upload_hook = hook


def upload_hook(app: FastAPI) -> UploadHook | None:
    """The installed hook, if any."""
    hook: UploadHook | None = getattr(app.state, "storage_upload_hook", None)
    return hook


def mime_type(value: str | None) -> str:
    """A MIME type without parameters, lower-cased (`Image/PNG; q=1` -> `image/png`)."""
    return (value or "").split(";", 1)[0].strip().lower()


async def receive_upload(
    storage: LocalStorage,
    hook: UploadHook | None,
    session: AsyncSession,
    key: str,
    *,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: AsyncIterable[bytes],
) -> ObjectInfo:
    """Verify a signed PUT, stream the body to a temp file under the signed size, then publish it."""
    parsed = parse_key(key)
    content_type = query.get("content_type", "")
    max_bytes = query.get("max_bytes", "")
    storage.verify(
        "PUT",
        key,
        expires=query.get("expires"),
        sig=query.get("sig"),
        content_type=content_type,
        max_bytes=max_bytes,
    )
    if mime_type(headers.get("content-type")) != mime_type(content_type):
        raise ValidationFailed(
            "content type does not match the signed upload", {"content_type": f"must be {content_type}"}
        )
    limit = int(max_bytes)  # signed, so it is the integer we wrote
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    staged = await storage.stage(key, body, content_type, limit)
    try:
        if hook is not None:
            await hook.before_commit(session, parsed)
        await storage.commit(staged)
    except BaseException:
        await storage.discard(staged)
        raise
    info = ObjectInfo(size=staged.size, content_type=content_type)
    if hook is not None:
        await hook.after_commit(session, storage, parsed, info)
    log.info("storage.upload_stored", key=key, size_bytes=info.size)
    return info


async def open_signed(storage: LocalStorage, key: str, query: Mapping[str, str]) -> tuple[Path, str]:
    """Verify a signed GET and locate the object."""
    parse_key(key)
    storage.verify("GET", key, expires=query.get("expires"), sig=query.get("sig"))
    return await storage.locate(key)


async def open_public(storage: LocalStorage, key: str) -> tuple[Path, str]:
    """Locate an object of a public kind; private kinds read as missing."""
    if not parse_key(key).is_public:
        raise NotFound("object not found")
    return await storage.locate(key)
