"""Media request and response models (identity.md §11.5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Strict, StringConstraints

from packfinderz.kit.schemas import Input
from packfinderz.models.media import Media


class PresignIn(Input):
    """POST /api/v1/media/presign; kind, name, size and MIME are checked in that order by the service."""

    media_kind: Annotated[str, Strict()]
    mime_type: Annotated[str, Strict(), StringConstraints(max_length=255)]
    file_name: Annotated[str, Strict(), StringConstraints(max_length=255)]
    size_bytes: Annotated[int, Strict()]


class PresignOut(BaseModel):
    """Where and how to upload: send exactly `upload_headers` with `upload_method` before `expires_at`."""

    media_id: uuid.UUID
    storage_key: str
    upload_url: str
    upload_method: Literal["PUT"]
    upload_headers: dict[str, str]
    expires_at: datetime


class MediaDTO(BaseModel):
    """A media row without its storage key; `url` is public or freshly signed, null unless readable."""

    id: uuid.UUID
    store_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    status: str
    file_name: str
    mime_type: str
    size_bytes: int
    uploaded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str | None

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
