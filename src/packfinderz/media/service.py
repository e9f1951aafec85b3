"""Media rules (identity.md §11): presign, upload confirmation, listing, deletion, pending cleanup."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.events.outbox import Actor, emit
from packfinderz.events.registry import MediaDeleted
from packfinderz.kit.errors import Conflict, NotFound, ValidationFailed
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.storage.base import (
    MEDIA_KINDS,
    MIME_GROUPS,
    ObjectInfo,
    Storage,
    StorageKey,
    build_key,
    parse_key,
)
from packfinderz.kit.storage.uploads import mime_type as normalize_mime
from packfinderz.media import repository
from packfinderz.media.files import Files
from packfinderz.media.repository import MediaFilters
from packfinderz.media.schemas import KIND_GROUPS, MediaDTO, PresignIn, PresignOut
from packfinderz.models.media import PROTECTED_ATTACHMENT_TYPES, Media

log = structlog.get_logger("media")

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,16}$")


def mime_allowed(kind: str, mime: str) -> bool:
    """Whether a (normalized) MIME type may be uploaded as this kind."""
    return any(mime in MIME_GROUPS[group] for group in KIND_GROUPS[kind])


def sanitize_file_name(raw: str) -> str:
    """Basename; no separators or control characters; whitespace runs -> `-`; trimmed of `-_.`."""
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")
    name = re.sub(r"\s+", "-", name).strip("-_.")
    return name or "file"


def _extension(mime: str, file_name: str) -> str | None:
    known = EXTENSIONS.get(mime)
    if known:
        return known
    _, dot, ext = file_name.rpartition(".")
    return ext.lower() if dot and _EXT_RE.match(ext.lower()) else None


@dataclass(frozen=True)
class UploadRequest:
    """A presign request that passed every check, with its normalized values."""

    kind: str
    file_name: str
    size_bytes: int
    mime_type: str
    extension: str | None


def check_presign(body: PresignIn, max_upload_bytes: int) -> UploadRequest:
    """identity.md §11.5, in order: kind; file name non-blank; size within the limit; MIME for the kind."""
    if body.media_kind not in MEDIA_KINDS:
        raise ValidationFailed(details={"media_kind": f"must be one of: {', '.join(MEDIA_KINDS)}"})
    if not body.file_name.strip():
        raise ValidationFailed(details={"file_name": "must not be blank"})
    if not 1 <= body.size_bytes <= max_upload_bytes:
        raise ValidationFailed(details={"size_bytes": f"must be between 1 and {max_upload_bytes}"})
    mime = normalize_mime(body.mime_type)
    if not _MIME_RE.match(mime):
        raise ValidationFailed(details={"mime_type": "is invalid"})
    if not mime_allowed(body.media_kind, mime):
        message = f"{body.media_kind} uploads only accept {', '.join(KIND_GROUPS[body.media_kind])}"
        raise ValidationFailed(message, {"mime_type": message})
    file_name = sanitize_file_name(body.file_name)
    return UploadRequest(body.media_kind, file_name, body.size_bytes, mime, _extension(mime, file_name))


async def presign(
    session: AsyncSession, files: Files, *, store_id: uuid.UUID, user_id: uuid.UUID, body: PresignIn
) -> PresignOut:
    """Insert a `pending` media row and sign its upload; a signing failure (503) leaves no row."""
    upload = check_presign(body, files.max_upload_bytes)
    media_id = uuid.uuid4()
    key = build_key(store_id, upload.kind, media_id, upload.extension)
    await repository.insert_media(
        session,
        id=media_id,
        store_id=store_id,
        user_id=user_id,
        kind=upload.kind,
        status="pending",
        storage_key=key,
        file_name=upload.file_name,
        mime_type=upload.mime_type,
        size_bytes=upload.size_bytes,
    )
    signed = await files.storage.presign_put(
        key, upload.mime_type, upload.size_bytes, files.upload_url_expiry
    )
    log.info("media.presigned", media_id=str(media_id), key=key, kind=upload.kind)
    return PresignOut(
        media_id=media_id,
        storage_key=key,
        upload_url=signed.url,
        upload_method="PUT",
        upload_headers=signed.headers,
        expires_at=signed.expires_at,
    )


async def store_media(
    session: AsyncSession, store_id: uuid.UUID, media_id: uuid.UUID, *, lock: bool = False
) -> Media:
    """A media row of the caller's store: 404 when missing or another store's (no probing, issue #17)."""
    media = await repository.get_media(session, media_id, lock=lock)
    if media is None or media.store_id != store_id:
        raise NotFound("media not found")
    return media


async def list_media(
    session: AsyncSession, files: Files, store_id: uuid.UUID, filters: MediaFilters, page: PageParams
) -> tuple[list[MediaDTO], str | None, int]:
    """A page of the store's media with read URLs, and the filtered total."""
    rows, cursor, total = await repository.list_media(session, store_id, filters, page)
    return [MediaDTO.of(m, await files.read_url(m)) for m in rows], cursor, total


async def get_media(
    session: AsyncSession, files: Files, store_id: uuid.UUID, media_id: uuid.UUID
) -> MediaDTO:
    """One media of the store, with its read URL."""
    media = await store_media(session, store_id, media_id)
    return MediaDTO.of(media, await files.read_url(media))


async def remove(session: AsyncSession, media: Media, actor: Actor | None) -> int:
    """Detach a media everywhere, delete its row and emit `media_deleted` (the worker then deletes the
    object); returns the number of attachment rows deleted."""
    detached = await repository.detach_everywhere(session, media.id)
    await repository.delete_media(session, media.id)
    await emit(
        session,
        MediaDeleted(media_id=media.id, store_id=media.store_id, storage_key=media.storage_key),
        actor=actor,
    )
    return detached


async def delete_media(session: AsyncSession, store_id: uuid.UUID, media_id: uuid.UUID, actor: Actor) -> None:
    """DELETE /media/{id}: refused (409) while a license, ad or order manifest uses the media."""
    media = await store_media(session, store_id, media_id, lock=True)
    protected = sorted(await repository.attachment_types(session, media.id) & PROTECTED_ATTACHMENT_TYPES)
    if protected:
        raise Conflict(f"media has protected attachments: {', '.join(protected)}")
    await remove(session, media, actor)
    log.info("media.deleted", media_id=str(media.id), key=media.storage_key)


async def confirm_upload(
    session: AsyncSession, storage: Storage, key: str, info: ObjectInfo, now: datetime | None = None
) -> Media | None:
    """identity.md §11.3 for both adapters: pending -> uploaded, or failed (object deleted) when the
    stored object breaks the declared type or size. Unknown keys are logged and ignored; finalized rows
    are left alone."""
    media = await repository.get_by_key(session, key, lock=True)
    if media is None:
        log.warning("media.confirm_unknown_key", key=key)
        return None
    if media.status != "pending":
        return media
    if not 1 <= info.size <= media.size_bytes or normalize_mime(info.content_type) != media.mime_type:
        media.status = "failed"
        await repository.save_media(session, media)
        await storage.delete(key)
        log.warning("media.upload_rejected", key=key, size_bytes=info.size)
        return media
    media.status = "uploaded"
    media.uploaded_at = now or datetime.now(UTC)
    media.size_bytes = info.size
    media.public_url = storage.public_url(key) if parse_key(key).is_public else None
    await repository.save_media(session, media)
    log.info("media.uploaded", media_id=str(media.id), key=key, size_bytes=info.size)
    return media


async def finalize(session: AsyncSession, files: Files, store_id: uuid.UUID, media_id: uuid.UUID) -> MediaDTO:
    """Confirm a pending upload by checking the object in storage (the `gcs` client's path; a no-op
    once the row is finalized); 409 while the object is not there."""
    media = await store_media(session, store_id, media_id, lock=True)
    if media.status == "pending":
        info = await files.storage.head(media.storage_key)
        if info is None:
            raise Conflict("upload not found in storage")
        await confirm_upload(session, files.storage, media.storage_key, info)
    return MediaDTO.of(media, await files.read_url(media))


class MediaUploadHook:
    """The local upload route's hook: only pending uploads may be stored, and storing confirms them."""

    async def before_commit(self, session: AsyncSession, key: StorageKey) -> None:
        """Lock the media row of the key; 404 unknown, 409 once uploaded or failed."""
        media = await repository.get_by_key(session, key.key, lock=True)
        if media is None:
            raise NotFound("upload not found")
        if media.status != "pending":
            raise Conflict("upload already finalized")

    async def after_commit(
        self, session: AsyncSession, storage: Storage, key: StorageKey, info: ObjectInfo
    ) -> None:
        """Confirm the stored object."""
        await confirm_upload(session, storage, key.key, info)
