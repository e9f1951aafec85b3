"""The storage contract (platform.md §8.1), run against `local` and against the GCS emulator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from packfinderz.kit.storage.base import InvalidStorageKey, ObjectInfo, ObjectNotFound
from tests.fixtures.gcs import Backend


def make_key(kind: str = "license_doc", ext: str | None = "pdf") -> str:
    return f"{uuid.uuid4()}/{kind}/{uuid.uuid4()}" + (f".{ext}" if ext else "")


async def test_put_then_get_returns_bytes_and_content_type(backend: Backend) -> None:
    key = make_key("manifest")
    await backend.storage.put(key, b"%PDF-1.7 manifest", "application/pdf")
    assert await backend.storage.get(key) == (b"%PDF-1.7 manifest", "application/pdf")


async def test_put_replaces_an_existing_object(backend: Backend) -> None:
    key = make_key("manifest")
    await backend.storage.put(key, b"first", "application/pdf")
    await backend.storage.put(key, b"second version", "application/pdf")
    assert await backend.storage.get(key) == (b"second version", "application/pdf")


async def test_get_missing_is_not_found(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound):
        await backend.storage.get(make_key())


async def test_head_reports_size_and_type_or_none(backend: Backend) -> None:
    key = make_key("product", "png")
    assert await backend.storage.head(key) is None
    await backend.storage.put(key, b"\x89PNG1234", "image/png")
    assert await backend.storage.head(key) == ObjectInfo(size=8, content_type="image/png")


async def test_delete_removes_and_missing_is_ok(backend: Backend) -> None:
    key = make_key()
    await backend.storage.put(key, b"doc", "application/pdf")
    await backend.storage.delete(key)
    assert await backend.storage.head(key) is None
    with pytest.raises(ObjectNotFound):
        await backend.storage.get(key)
    await backend.storage.delete(key)  # already gone: still fine


async def test_presigned_put_stores_what_the_client_sends(backend: Backend) -> None:
    key = make_key("license_doc", "pdf")
    signed = await backend.storage.presign_put(key, "application/pdf", 1024, expires=900)
    assert signed.method == "PUT"
    assert signed.headers["Content-Type"] == "application/pdf"
    assert signed.expires_at > datetime.now(UTC) + timedelta(seconds=800)
    response = await backend.http.request(signed.method, signed.url, headers=signed.headers, content=b"%PDF")
    assert response.is_success, response.text
    assert await backend.storage.get(key) == (b"%PDF", "application/pdf")


async def test_presigned_get_reads_the_object(backend: Backend) -> None:
    key = make_key("license_doc", "png")
    await backend.storage.put(key, b"\x89PNG-license", "image/png")
    signed = await backend.storage.presign_get(key, expires=3600)
    assert signed.method == "GET"
    response = await backend.http.get(signed.url)
    assert response.status_code == 200
    assert response.content == b"\x89PNG-license"
    assert response.headers["content-type"].startswith("image/png")


async def test_public_url_serves_public_kinds_without_a_signature(backend: Backend) -> None:
    key = make_key("product", "webp")
    await backend.storage.put(key, b"RIFFwebp", "image/webp")
    url = backend.storage.public_url(key)
    assert "sig=" not in url
    assert "X-Goog-Signature" not in url
    response = await backend.http.get(url)
    assert response.status_code == 200
    assert response.content == b"RIFFwebp"


async def test_probe_reports_the_adapter(backend: Backend) -> None:
    assert await backend.storage.probe() == {"adapter": backend.name}


# Fixed ids: parameters must be identical in every xdist worker's collection.
_S = "6f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5"
_M = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "a/../../b",
        f"/{_S}/product/{_M}.png",
        f"{_S}\\product\\{_M}.png",
        f"{_S}/secrets/{_M}.png",
        f"{_S}/product/not-a-uuid.png",
        f"{_S}/product/{_M}.png/extra",
        f"{_S}/product/{_M}.tar.gz",
        "",
    ],
)
async def test_every_operation_rejects_malformed_keys(backend: Backend, key: str) -> None:
    storage = backend.storage
    with pytest.raises(InvalidStorageKey):
        await storage.put(key, b"x", "image/png")
    with pytest.raises(InvalidStorageKey):
        await storage.get(key)
    with pytest.raises(InvalidStorageKey):
        await storage.head(key)
    with pytest.raises(InvalidStorageKey):
        await storage.delete(key)
    with pytest.raises(InvalidStorageKey):
        await storage.presign_put(key, "image/png", 10, expires=60)
    with pytest.raises(InvalidStorageKey):
        await storage.presign_get(key, expires=60)
    with pytest.raises(InvalidStorageKey):
        storage.public_url(key)
