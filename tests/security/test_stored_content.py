"""Item 2 (issue #17): stored content cannot run in the api's origin.

Before the fix kind `other` accepted any MIME type and the storage routes served files `inline` without
`nosniff`: an uploaded `text/html` page came back as `text/html` from the api's own origin.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.factories import Account, idem, register_vendor

PAGE = b"<html><body><script>fetch('/api/v1/stores/me')</script></body></html>"


async def presign(
    client: httpx.AsyncClient, account: Account, kind: str, mime: str, name: str
) -> httpx.Response:
    body = {"media_kind": kind, "mime_type": mime, "file_name": name, "size_bytes": len(PAGE)}
    return await client.post("/api/v1/media/presign", json=body, headers={**account.headers, **idem()})


@pytest.mark.parametrize(
    "mime",
    ["text/html", "image/svg+xml", "application/javascript", "text/javascript", "application/xhtml+xml"],
)
async def test_active_content_types_are_refused_for_every_kind(client: httpx.AsyncClient, mime: str) -> None:
    vendor = await register_vendor(client)
    for kind in ("other", "product", "store", "pdf", "license_doc"):
        response = await presign(client, vendor, kind, mime, "page.html")
        assert response.status_code == 400, (kind, mime, response.text)
        assert "mime_type" in response.json()["error"]["details"]


async def upload(client: httpx.AsyncClient, account: Account, kind: str, mime: str, data: bytes) -> str:
    presigned = await presign(client, account, kind, mime, "notes.txt")
    assert presigned.status_code == 201, presigned.text
    out = presigned.json()["data"]
    put = await client.put(out["upload_url"], content=data, headers=out["upload_headers"])
    assert put.status_code == 201, put.text
    media = await client.get(f"/api/v1/media/{out['media_id']}", headers=account.headers)
    url: str = media.json()["data"]["url"]
    return url


async def test_documents_download_as_attachments_with_nosniff_and_a_sandbox(
    client: httpx.AsyncClient,
) -> None:
    vendor = await register_vendor(client)
    url = await upload(client, vendor, "other", "text/plain", PAGE)
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == "attachment"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("sandbox")


async def test_images_show_inline_but_sandboxed(client: httpx.AsyncClient) -> None:
    vendor = await register_vendor(client)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    url = await upload(client, vendor, "product", "image/png", png)
    response = await client.get(url)  # public kind: the unsigned public route
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


async def test_an_html_object_stored_before_the_fix_is_served_inert(
    client: httpx.AsyncClient, db: Database, app_settings: Settings
) -> None:
    """Objects already stored with an active type are sent as octet-stream attachments."""
    vendor = await register_vendor(client)
    url = await upload(client, vendor, "other", "text/plain", PAGE)
    key = url.split("/objects/")[1].split("?")[0]
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE media SET mime_type = 'text/html' WHERE storage_key = :k"), {"k": key}
        )
    # the local adapter keeps each object's type beside it: make it the HTML an old upload could have had
    stored = Path(app_settings.storage_local_dir) / key
    stored.with_name(f".{stored.name}.type").write_text("text/html")
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment"
    assert response.headers["x-content-type-options"] == "nosniff"
