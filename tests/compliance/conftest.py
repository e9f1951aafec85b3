"""Compliance fixtures: the app on a private local storage folder, and helpers for uploads and events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.storage.local import LocalStorage
from tests.fixtures.events import pubsub_emulator  # noqa: F401 - a fixture for the gcs notification tests
from tests.fixtures.factories import Account, admin_headers, idem, register_buyer, register_vendor

PDF = b"%PDF-1.7\n" + b"0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 32


@pytest.fixture
def storage(app: FastAPI) -> LocalStorage:
    found = app.state.storage
    assert isinstance(found, LocalStorage)
    return found


@pytest.fixture
async def buyer(client: httpx.AsyncClient) -> Account:
    return await register_buyer(client)


@pytest.fixture
async def vendor(client: httpx.AsyncClient) -> Account:
    return await register_vendor(client)


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, settings: Settings) -> dict[str, str]:
    """Headers of a logged-in admin."""
    return await admin_headers(client, db, settings)


@dataclass
class Upload:
    """A presigned media and what the presign answered."""

    media_id: uuid.UUID
    storage_key: str
    data: dict[str, Any]


async def presign(
    client: httpx.AsyncClient,
    account: Account,
    *,
    kind: str = "license_doc",
    mime: str = "application/pdf",
    name: str = "license.pdf",
    size: int = len(PDF),
) -> Upload:
    """POST /media/presign; asserts 201."""
    body = {"media_kind": kind, "mime_type": mime, "file_name": name, "size_bytes": size}
    response = await client.post("/api/v1/media/presign", json=body, headers={**account.headers, **idem()})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Upload(uuid.UUID(data["media_id"]), data["storage_key"], data)


async def put_bytes(client: httpx.AsyncClient, upload: Upload, content: bytes) -> httpx.Response:
    """Send bytes to the signed upload URL exactly as a client would."""
    return await client.request(
        upload.data["upload_method"],
        upload.data["upload_url"],
        headers=upload.data["upload_headers"],
        content=content,
    )


async def uploaded(
    client: httpx.AsyncClient,
    account: Account,
    *,
    kind: str = "license_doc",
    mime: str = "application/pdf",
    content: bytes = PDF,
    name: str = "license.pdf",
) -> Upload:
    """Presign and upload a file; asserts the upload was confirmed."""
    upload = await presign(client, account, kind=kind, mime=mime, name=name, size=len(content))
    response = await put_bytes(client, upload, content)
    assert response.status_code == 201, response.text
    return upload


def license_body(media_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """A valid license request (unique number unless given)."""
    return {
        "media_id": str(media_id),
        "issuing_state": "OK",
        "type": "dispensary",
        "number": f"lic-{uuid.uuid4().hex[:10]}",
        "issue_date": "2025-01-01",
        "expiration_date": "2030-01-01",
        **overrides,
    }


async def submit_license(client: httpx.AsyncClient, account: Account, **overrides: Any) -> dict[str, Any]:
    """Upload a document and submit a license with it; asserts 201 and returns the LicenseDTO."""
    upload = await uploaded(client, account)
    response = await client.post(
        "/api/v1/licenses",
        json=license_body(upload.media_id, **overrides),
        headers={**account.headers, **idem()},
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def decide(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    license_id: str,
    decision: str,
    reason: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"decision": decision}
    if reason is not None:
        body["reason"] = reason
    return await client.post(
        f"/api/admin/v1/licenses/{license_id}/verify", json=body, headers={**admin, **idem()}
    )


async def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    """`data` of every outbox event of a type, oldest first."""
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT payload FROM outbox_events WHERE event_type = :t ORDER BY created_at, id"),
            {"t": event_type},
        )
        return [row.payload["data"] for row in rows]


async def audits(db: Database, action_prefix: str) -> list[dict[str, Any]]:
    """Audit rows whose action starts with a prefix, oldest first."""
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT action, actor_user_id, actor_store_id, actor_role, target_id, payload "
                "FROM audit_logs WHERE action LIKE :p ORDER BY created_at, id"
            ),
            {"p": f"{action_prefix}%"},
        )
        return [dict(row._mapping) for row in rows]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def kyc(db: Database, store_id: uuid.UUID | None) -> str:
    value: str = await scalar(db, "SELECT kyc_status FROM stores WHERE id = :id", id=store_id)
    return value
