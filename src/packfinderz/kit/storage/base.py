"""The storage contract (platform.md §8.1): one Protocol, object keys, media kinds and storage errors."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from packfinderz.kit.errors import AppError, DependencyError, Forbidden, NotFound, ValidationFailed

# identity.md §11.1: the media kinds and which of them are world-readable.
MEDIA_KINDS = ("product", "ads", "pdf", "license_doc", "coa", "manifest", "user", "store", "other")
PUBLIC_KINDS = frozenset({"product", "ads", "store", "user", "coa"})

# The content types media may have, by group (identity.md §11.1). Never HTML, SVG, XML or scripts: stored
# content must not run in the api's origin (issue #17).
MIME_GROUPS: dict[str, frozenset[str]] = {
    "images": frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"}),
    "videos": frozenset({"video/mp4", "video/webm"}),
    "pdf": frozenset({"application/pdf"}),
    "documents": frozenset(
        {
            "text/plain",
            "text/csv",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
}
SERVABLE_TYPES = frozenset().union(*MIME_GROUPS.values())
# Shown in the browser; everything else downloads (Content-Disposition: attachment).
INLINE_TYPES = MIME_GROUPS["images"] | MIME_GROUPS["pdf"]
# Every stored object is served with these: no sniffing, and a sandbox so that nothing in it can script
# the api's origin even if a browser renders it.
OBJECT_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
}


def object_response_headers(content_type: str) -> tuple[str, dict[str, str]]:
    """(content type to send, headers) for serving a stored object: unknown types become octet-stream."""
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media_type not in SERVABLE_TYPES:
        media_type = "application/octet-stream"
    disposition = "inline" if media_type in INLINE_TYPES else "attachment"
    return media_type, {**OBJECT_SECURITY_HEADERS, "Content-Disposition": disposition}


_KEY_RE = re.compile(
    r"^(?P<store_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"/(?P<kind>[a-z_]+)"
    r"/(?P<media_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(?:\.(?P<ext>[a-z0-9]{1,16}))?$"
)


class InvalidStorageKey(ValidationFailed):
    """A key that is not `{store_id}/{kind}/{media_id}[.{ext}]` (path tricks included)."""

    def __init__(self, reason: str) -> None:
        super().__init__(details={"key": reason})


class ObjectNotFound(NotFound):
    """The object does not exist in storage."""

    message = "object not found"


class SignatureInvalid(Forbidden):
    """A signed storage URL that was tampered with, or has expired."""

    message = "invalid signature"


class PayloadTooLarge(AppError):
    """An upload larger than the size it was signed for."""

    code, status, message = "PAYLOAD_TOO_LARGE", 413, "upload exceeds the signed size"


class StorageUnavailable(DependencyError):
    """The storage backend failed for a reason other than a missing object (503, dependency storage)."""

    def __init__(self) -> None:
        super().__init__("storage")


@dataclass(frozen=True)
class StorageKey:
    """A validated object key and its parts."""

    key: str
    store_id: uuid.UUID
    kind: str
    media_id: uuid.UUID
    ext: str | None

    @property
    def is_public(self) -> bool:
        return self.kind in PUBLIC_KINDS


def parse_key(key: str) -> StorageKey:
    """Validate `{store_id}/{kind}/{media_id}[.{ext}]`; `..`, `\\` and a leading `/` are rejected."""
    if ".." in key:
        raise InvalidStorageKey("must not contain '..'")
    if "\\" in key:
        raise InvalidStorageKey("must not contain '\\'")
    if key.startswith("/"):
        raise InvalidStorageKey("must not start with '/'")
    match = _KEY_RE.match(key)
    if match is None or match["kind"] not in MEDIA_KINDS:
        raise InvalidStorageKey("must be {store_id}/{kind}/{media_id}[.{ext}]")
    return StorageKey(
        key=key,
        store_id=uuid.UUID(match["store_id"]),
        kind=match["kind"],
        media_id=uuid.UUID(match["media_id"]),
        ext=match["ext"],
    )


def build_key(store_id: uuid.UUID, kind: str, media_id: uuid.UUID, ext: str | None) -> str:
    """The object key of a media row (validated, so a bad extension fails here, not at upload)."""
    key = f"{store_id}/{kind}/{media_id}" + (f".{ext}" if ext else "")
    return parse_key(key).key


@dataclass(frozen=True)
class SignedRequest:
    """A URL a client calls as is: `method` with exactly `headers`, before `expires_at`."""

    url: str
    method: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    """What storage knows about a stored object."""

    size: int
    content_type: str


class Storage(Protocol):
    """Object storage for media and generated files; every key goes through `parse_key`."""

    name: str

    async def presign_put(self, key: str, content_type: str, max_bytes: int, expires: float) -> SignedRequest:
        """A PUT URL accepting exactly `content_type` and at most `max_bytes`, valid `expires` seconds."""

    async def presign_get(self, key: str, expires: float) -> SignedRequest:
        """A GET URL reading the object, valid `expires` seconds."""

    def public_url(self, key: str) -> str:
        """The stable unsigned URL of an object of a public kind."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store an object the system generated itself (replaces any existing one)."""

    async def get(self, key: str) -> tuple[bytes, str]:
        """(bytes, content type) of an object; ObjectNotFound when missing."""

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and content type of an object, or None when missing."""

    async def delete(self, key: str) -> None:
        """Remove an object; a missing object is not an error."""

    async def probe(self) -> dict[str, Any]:
        """Prove the backend is usable (readiness); returns extra report fields."""
