"""GCS bucket notifications -> media rows (platform.md §11.5 `media-storage`; storage `gcs` only).

Both buckets publish OBJECT_FINALIZE / OBJECT_DELETE (`JSON_API_V1`) to GCS_NOTIFICATION_SUBSCRIPTION.
`parse_notification` validates a message; `apply_notification` runs in the caller's transaction and is
idempotent by state (no Redis guard): finalized rows are left alone, missing rows are ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.storage.base import InvalidStorageKey, ObjectInfo, Storage, parse_key
from packfinderz.media import repository
from packfinderz.media.service import confirm_upload, remove
from packfinderz.models.media import PROTECTED_ATTACHMENT_TYPES

log = structlog.get_logger("media")

FINALIZE = "OBJECT_FINALIZE"
DELETE = "OBJECT_DELETE"


@dataclass(frozen=True)
class StorageNotification:
    """One object event of one of our buckets; `key` is the object name (the storage key)."""

    event_type: str
    bucket: str
    key: str
    size: int
    content_type: str
    overwritten: bool


def _body(raw: bytes) -> dict[str, Any] | None:
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = raw
    try:
        value = json.loads(decoded)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def parse_notification(
    attributes: Mapping[str, str], body: bytes, buckets: Set[str]
) -> StorageNotification | None:
    """The notification, or None (logged) when it is not a JSON_API_V1 object event of our buckets."""
    event_type = attributes.get("eventType", "")
    if attributes.get("payloadFormat") != "JSON_API_V1" or event_type not in (FINALIZE, DELETE):
        log.warning("media.storage_event_ignored", reason="format", event_type=event_type)
        return None
    data = _body(body)
    if data is None or not data.get("name") or data.get("bucket") not in buckets:
        log.warning("media.storage_event_ignored", reason="payload", event_type=event_type)
        return None
    try:
        size = int(data.get("size") or 0)
    except (TypeError, ValueError):
        size = 0
    return StorageNotification(
        event_type=event_type,
        bucket=str(data["bucket"]),
        key=str(data["name"]),
        size=size,
        content_type=str(data.get("contentType") or ""),
        overwritten="overwrittenByGeneration" in attributes,
    )


async def apply_notification(session: AsyncSession, storage: Storage, note: StorageNotification) -> str:
    """Confirm uploads on OBJECT_FINALIZE; on OBJECT_DELETE of an uploaded object, clean up its row like
    DELETE /media does (kept, with an error log, while a protected attachment uses it). Returns the
    outcome: confirmed, removed, kept or ignored."""
    try:
        parse_key(note.key)
    except InvalidStorageKey:
        log.warning("media.storage_event_ignored", reason="key", key=note.key)
        return "ignored"
    if note.event_type == FINALIZE:
        media = await confirm_upload(session, storage, note.key, ObjectInfo(note.size, note.content_type))
        return "confirmed" if media is not None else "ignored"
    media = await repository.get_by_key(session, note.key, lock=True)
    # Overwrites and our own deletions (failed uploads, deleted rows) need no cleanup.
    if media is None or note.overwritten or media.status != "uploaded":
        return "ignored"
    protected = await repository.attachment_types(session, media.id) & PROTECTED_ATTACHMENT_TYPES
    if protected:
        log.error(
            "media.protected_object_deleted", media_id=str(media.id), key=note.key, types=sorted(protected)
        )
        return "kept"
    await remove(session, media, actor=None)
    return "removed"
