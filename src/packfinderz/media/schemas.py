"""Media request and response models (identity.md §11.5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from packfinderz.kit.schemas import AsInteger, Input
from packfinderz.kit.storage.base import MEDIA_KINDS, MIME_GROUPS
from packfinderz.models.media import Media

MediaKind = Literal["product", "ads", "pdf", "license_doc", "coa", "manifest", "user", "store", "other"]
MediaStatus = Literal["pending", "uploaded", "failed"]

# identity.md §11.1, except `other`: documents and images only (issue #17), no longer any type.
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "product": ("images", "videos"),
    "ads": ("images", "videos"),
    "store": ("images",),
    "user": ("images",),
    "coa": ("pdf",),
    "license_doc": ("pdf", "images"),
    "pdf": ("pdf",),
    "manifest": ("pdf",),
    "other": ("pdf", "documents", "images"),
}
# The default PACKFINDERZ_MAX_UPLOAD_MB (20) in bytes: the document's `size_bytes` maximum.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _kind_mime_rule() -> list[dict[str, Any]]:
    """`if media_kind in <kinds> then mime_type in <their types>`, one per group of kinds sharing their MIME
    types. `if`/`then` (not a model-level `anyOf`) so that client generators keep one PresignIn class."""
    by_groups: dict[tuple[str, ...], list[str]] = {}
    for kind in MEDIA_KINDS:
        by_groups.setdefault(KIND_GROUPS[kind], []).append(kind)
    return [
        {
            "if": {"properties": {"media_kind": {"enum": kinds}}, "required": ["media_kind"]},
            "then": {
                "properties": {"mime_type": {"enum": sorted(set().union(*(MIME_GROUPS[g] for g in groups)))}}
            },
        }
        for groups, kinds in by_groups.items()
    ]


_KIND_MIME_RULE: Any = _kind_mime_rule()


class PresignIn(Input):
    """POST /api/v1/media/presign; kind, name, size and MIME are checked in that order by the service.

    The MIME type must be one the kind accepts (`if`/`then` rules below): images for product, ads, store
    and user (videos too for product and ads); PDF for coa, pdf and manifest; PDF or images for
    license_doc; PDF, office documents, text or images for other. A MIME type is compared without its
    parameters, lower-cased.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": _KIND_MIME_RULE,
            "examples": [
                {
                    "media_kind": "product",
                    "mime_type": "image/jpeg",
                    "file_name": "blue-dream-eighth.jpg",
                    "size_bytes": 482133,
                }
            ],
        }
    )

    # Checked by the service (its message and order); the enum states it in the document.
    media_kind: Annotated[str, Strict(), Field(json_schema_extra={"enum": list(MEDIA_KINDS)})]
    mime_type: Annotated[
        str,
        Strict(),
        StringConstraints(max_length=255),
        Field(description="An accepted MIME type of the kind (see the operation)."),
    ]
    file_name: Annotated[
        str,
        Strict(),
        StringConstraints(max_length=255),
        Field(
            description="Not blank; stored sanitized (basename, no control characters).",
            json_schema_extra={"pattern": r"\S"},
        ),
    ]
    size_bytes: Annotated[
        int,
        AsInteger,
        Field(
            description="1..PACKFINDERZ_MAX_UPLOAD_MB (default 20 MB) bytes; the upload must match it.",
            json_schema_extra={"minimum": 1, "maximum": DEFAULT_MAX_UPLOAD_BYTES},
        ),
    ]


class PresignOut(BaseModel):
    """Where and how to upload: send exactly `upload_headers` with `upload_method` before `expires_at`."""

    media_id: uuid.UUID
    storage_key: str
    upload_url: str
    upload_method: Literal["PUT"]
    upload_headers: dict[str, str]
    expires_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "media_id": "7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b",
                    "storage_key": "4f65fc91-bc1b-44be-8798-55ff85b0d1b5/product/"
                    "7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b.jpg",
                    "upload_url": "http://localhost:8080/api/storage/v1/upload/4f65fc91-bc1b-44be-8798-55ff85b0d1b5/"
                    "product/7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b.jpg?content_type=image%2Fjpeg"
                    "&max_bytes=482133&expires=1796659800&sig=9b0c3f1e2d",
                    "upload_method": "PUT",
                    "upload_headers": {"Content-Type": "image/jpeg"},
                    "expires_at": "2026-12-07T15:25:00Z",
                }
            ]
        }
    )


class MediaDTO(BaseModel):
    """A media row without its storage key; `url` is public or freshly signed, null unless readable."""

    id: uuid.UUID
    store_id: uuid.UUID
    user_id: uuid.UUID
    kind: MediaKind
    status: MediaStatus
    file_name: str
    mime_type: str
    size_bytes: int
    uploaded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b",
                    "store_id": "4f65fc91-bc1b-44be-8798-55ff85b0d1b5",
                    "user_id": "c48e5aae-413c-4f34-9dc5-6ebd4d07f144",
                    "kind": "product",
                    "status": "uploaded",
                    "file_name": "blue-dream-eighth.jpg",
                    "mime_type": "image/jpeg",
                    "size_bytes": 482133,
                    "uploaded_at": "2026-12-07T15:11:02Z",
                    "created_at": "2026-12-07T15:10:00Z",
                    "updated_at": "2026-12-07T15:11:02Z",
                    "url": "http://localhost:8080/api/storage/v1/public/4f65fc91-bc1b-44be-8798-55ff85b0d1b5/"
                    "product/7c1e4b2a-9d3f-4a6e-8b5c-2f1a0e9d8c7b.jpg",
                }
            ]
        }
    )

    @classmethod
    def of(cls, media: Media, url: str | None) -> MediaDTO:
        return cls(
            id=media.id,
            store_id=media.store_id,
            user_id=media.user_id,
            kind=media.kind,
            status=media.status,
            file_name=media.file_name,
            mime_type=media.mime_type,
            size_bytes=media.size_bytes,
            uploaded_at=media.uploaded_at,
            created_at=media.created_at,
            updated_at=media.updated_at,
            url=url,
        )
