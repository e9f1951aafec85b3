"""Storage as the media rules see it: the adapter plus the size limit and URL lifetimes from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from packfinderz.config import Settings
from packfinderz.kit.storage.base import Storage, parse_key
from packfinderz.models.media import Media


@dataclass(frozen=True)
class Files:
    """The storage adapter with PACKFINDERZ_MAX_UPLOAD_MB and the signed URL expiries."""

    storage: Storage
    max_upload_bytes: int
    upload_url_expiry: float
    download_url_expiry: float

    @classmethod
    def of(cls, settings: Settings, storage: Storage) -> Files:
        return cls(
            storage=storage,
            max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
            upload_url_expiry=settings.storage_upload_url_expiry,
            download_url_expiry=settings.storage_download_url_expiry,
        )

    async def read_url(self, media: Media) -> str | None:
        """The stable public URL, or a fresh signed read URL for private kinds; null unless readable.

        Signed URLs are minted per response and never stored or logged (identity.md §11.1).
        """
        if not media.readable:
            return None
        if parse_key(media.storage_key).is_public:
            return media.public_url or self.storage.public_url(media.storage_key)
        return (await self.storage.presign_get(media.storage_key, self.download_url_expiry)).url


async def _files(request: Request) -> Files:
    return Files.of(request.app.state.settings, request.app.state.storage)


MediaFiles = Annotated[Files, Depends(_files)]
