"""Local storage: files under STORAGE_LOCAL_DIR, served by the API at HMAC-signed, expiring URLs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlencode

from packfinderz.config import Settings
from packfinderz.kit.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    PayloadTooLarge,
    SignatureInvalid,
    SignedRequest,
    StorageUnavailable,
    parse_key,
)

UPLOAD_PATH = "/api/storage/v1/upload/"
OBJECT_PATH = "/api/storage/v1/objects/"
PUBLIC_PATH = "/api/storage/v1/public/"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

T = TypeVar("T")


@dataclass(frozen=True)
class StagedUpload:
    """An upload written to a temporary file beside its final place, not yet visible."""

    key: str
    temp_path: Path
    size: int
    content_type: str


class LocalStorage:
    """The `local` adapter: one folder, atomic writes, the content type kept in a hidden sidecar file."""

    name = "local"

    def __init__(self, root: Path, base_url: str, secret: str) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self._secret = secret.encode()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        """The adapter configured by STORAGE_LOCAL_DIR, PUBLIC_BASE_URL and STORAGE_SIGNING_SECRET."""
        return cls(
            Path(settings.storage_local_dir).resolve(),
            settings.effective_public_base_url,
            settings.effective_storage_signing_secret,
        )

    # --- signing -------------------------------------------------------------------------------

    def _signature(self, method: str, key: str, content_type: str, max_bytes: str, expires: str) -> str:
        message = "\n".join((method, key, content_type, max_bytes, expires)).encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async def presign_put(self, key: str, content_type: str, max_bytes: int, expires: float) -> SignedRequest:
        """A signed `PUT /api/storage/v1/upload/{key}` URL bound to the content type and size limit."""
        parse_key(key)
        expires_at = int(time.time() + expires)
        sig = self._signature("PUT", key, content_type, str(max_bytes), str(expires_at))
        query = urlencode(
            {"content_type": content_type, "max_bytes": max_bytes, "expires": expires_at, "sig": sig}
        )
        return SignedRequest(
            url=f"{self.base_url}{UPLOAD_PATH}{key}?{query}",
            method="PUT",
            expires_at=datetime.fromtimestamp(expires_at, UTC),
            headers={"Content-Type": content_type},
        )

    async def presign_get(self, key: str, expires: float) -> SignedRequest:
        """A signed `GET /api/storage/v1/objects/{key}` URL."""
        parse_key(key)
        expires_at = int(time.time() + expires)
        sig = self._signature("GET", key, "", "", str(expires_at))
        return SignedRequest(
            url=f"{self.base_url}{OBJECT_PATH}{key}?{urlencode({'expires': expires_at, 'sig': sig})}",
            method="GET",
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )

    def verify(
        self,
        method: str,
        key: str,
        *,
        expires: str | None,
        sig: str | None,
        content_type: str = "",
        max_bytes: str = "",
    ) -> None:
        """Check a signed URL's parameters (constant-time); SignatureInvalid when tampered or expired."""
        if not expires or not sig:
            raise SignatureInvalid()
        expected = self._signature(method, key, content_type, max_bytes, expires)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise SignatureInvalid()
        # The signature covers `expires`, so once it matches the value is our own integer.
        if int(expires) < time.time():
            raise SignatureInvalid("signed URL expired")

    def public_url(self, key: str) -> str:
        """`<PUBLIC_BASE_URL>/api/storage/v1/public/<key>` (only served for public kinds)."""
        parse_key(key)
        return f"{self.base_url}{PUBLIC_PATH}{key}"

    # --- objects -------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        # parse_key admits only uuid/kind/uuid[.ext] segments, so the path stays under root.
        return self.root / parse_key(key).key

    @staticmethod
    def _type_path(path: Path) -> Path:
        # Object file names start with a uuid, so a dot-prefixed sidecar never collides with a key.
        return path.with_name(f".{path.name}.type")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Write the object through a temporary file and an atomic rename."""

        async def one_chunk() -> AsyncIterable[bytes]:
            yield data

        staged = await self.stage(key, one_chunk(), content_type, max_bytes=len(data))
        await self.commit(staged)

    async def stage(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, max_bytes: int
    ) -> StagedUpload:
        """Stream chunks into a temporary file, refusing more than `max_bytes` (PayloadTooLarge)."""
        path = self._path(key)
        handle: IO[bytes] = await _io(_open_temp, path)
        temp_path = Path(handle.name)
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge()
                await _io(handle.write, chunk)
            await _io(_flush_and_close, handle)
        except BaseException:
            await asyncio.to_thread(_close_and_remove, handle, temp_path)
            raise
        return StagedUpload(key, temp_path, size, content_type)

    async def commit(self, staged: StagedUpload) -> None:
        """Make a staged upload visible: its content type first, then the data by atomic rename."""
        path = self._path(staged.key)
        await _io(_write_atomic, self._type_path(path), staged.content_type.encode())
        await _io(os.replace, staged.temp_path, path)

    async def discard(self, staged: StagedUpload) -> None:
        """Remove a staged upload that will not be committed."""
        await _io(staged.temp_path.unlink, missing_ok=True)

    def _locate(self, key: str) -> tuple[Path, str]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound()
        try:
            content_type = self._type_path(path).read_text().strip() or DEFAULT_CONTENT_TYPE
        except FileNotFoundError:
            content_type = DEFAULT_CONTENT_TYPE
        return path, content_type

    async def locate(self, key: str) -> tuple[Path, str]:
        """(file path, content type) of a stored object; ObjectNotFound when missing."""
        return await _io(self._locate, key)

    async def get(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and stored content type."""
        path, content_type = await self.locate(key)
        return await _io(path.read_bytes), content_type

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and content type, or None when missing."""
        try:
            path, content_type = await self.locate(key)
            return ObjectInfo(size=(await _io(path.stat)).st_size, content_type=content_type)
        except ObjectNotFound:
            return None

    async def delete(self, key: str) -> None:
        """Remove the object and its sidecar; missing is fine."""
        path = self._path(key)
        await _io(path.unlink, missing_ok=True)
        await _io(self._type_path(path).unlink, missing_ok=True)

    async def probe(self) -> dict[str, Any]:
        """Create and delete a probe file under the storage folder."""
        probe = self.root / f".probe-{uuid.uuid4().hex}"
        await _io(_write_atomic, probe, b"probe")
        await _io(probe.unlink)
        return {"adapter": self.name}


async def _io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking file IO in a thread; a vanished file is ObjectNotFound, other OS errors a 503."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except FileNotFoundError as exc:
        raise ObjectNotFound() from exc
    except OSError as exc:
        raise StorageUnavailable() from exc


def _open_temp(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so the final os.replace is an atomic rename on one filesystem.
    return tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False)


def _flush_and_close(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _close_and_remove(handle: IO[bytes], temp_path: Path) -> None:
    handle.close()
    temp_path.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)
