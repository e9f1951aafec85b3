"""Tenancy matrix of every compliance route: anonymous, other store, store user vs admin, admin vs store."""

from __future__ import annotations

from typing import Any

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.compliance import submit_license, uploaded
from tests.fixtures.db import audits, events, scalar
from tests.fixtures.factories import Account, auth_headers, create_agent, idem, login_token

MEDIA_BODY = {"media_kind": "product", "mime_type": "image/png", "file_name": "a.png", "size_bytes": 3}


def store_routes(
    media_id: Any, license_id: Any, license_media_id: Any
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, json) of every store-context route, aimed at store A's rows."""
    license_body = {
        "media_id": str(license_media_id),
        "issuing_state": "OK",
        "type": "grower",
        "number": "T-1",
    }
    return [
        ("POST", "/api/v1/media/presign", MEDIA_BODY),
        ("GET", "/api/v1/media", None),
        ("GET", f"/api/v1/media/{media_id}", None),
        ("POST", f"/api/v1/media/{media_id}/finalize", None),
        ("DELETE", f"/api/v1/media/{media_id}", None),
        ("POST", "/api/v1/licenses", license_body),
        ("GET", "/api/v1/licenses", None),
        ("GET", f"/api/v1/licenses/{license_id}", None),
        ("DELETE", f"/api/v1/licenses/{license_id}", None),
    ]


def admin_routes(store_id: Any, license_id: Any) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/api/admin/v1/licenses", None),
        ("GET", f"/api/admin/v1/licenses/{license_id}", None),
        ("POST", f"/api/admin/v1/licenses/{license_id}/verify", {"decision": "verified"}),
        ("GET", "/api/admin/v1/stores", None),
        ("GET", f"/api/admin/v1/stores/{store_id}", None),
        ("PATCH", f"/api/admin/v1/stores/{store_id}", {"suspended": True, "reason": "probe"}),
    ]


async def call(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(method, path, json=body, headers={**headers, **idem()})


async def test_every_route_needs_credentials(client: httpx.AsyncClient, vendor: Account) -> None:
    license_ = await submit_license(client, vendor)
    routes = store_routes(license_["media_id"], license_["id"], license_["media_id"])
    routes += admin_routes(vendor.store_id, license_["id"])
    for method, path, body in routes:
        response = await call(client, method, path, body, {})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_store_b_can_never_read_or_change_store_a(
    client: httpx.AsyncClient, vendor: Account, buyer: Account, db: Database
) -> None:
    license_ = await submit_license(client, vendor)
    await scalar(db, "UPDATE licenses SET status = 'rejected' WHERE id = :id RETURNING id", id=license_["id"])
    spare = await uploaded(client, vendor)
    before = await snapshot(db)
    for method, path, body in store_routes(spare.media_id, license_["id"], license_["media_id"]):
        response = await call(client, method, path, body, buyer.headers)
        if path in ("/api/v1/media", "/api/v1/licenses") and method == "GET":
            assert response.status_code == 200
            # store A's rows never show up in B's lists (B's own presign above may)
            assert {item["store_id"] for item in response.json()["data"]["items"]} <= {str(buyer.store_id)}
        elif path == "/api/v1/media/presign":
            assert response.status_code == 201  # creates B's own media, never A's
        else:
            assert response.status_code == 403, (method, path, response.text)
    after = await snapshot(db)
    assert after["vendor_media"] == before["vendor_media"]
    assert after["licenses"] == before["licenses"]
    assert await events(db, "media_deleted") == []


async def snapshot(db: Database) -> dict[str, Any]:
    return {
        "vendor_media": await scalar(
            db, "SELECT array_agg(id || status ORDER BY id) FROM media WHERE kind <> 'product'"
        ),
        "licenses": await scalar(db, "SELECT array_agg(id || status ORDER BY id) FROM licenses"),
    }


async def test_store_users_and_agents_are_refused_admin_routes(
    client: httpx.AsyncClient, vendor: Account, db: Database, settings: Settings
) -> None:
    license_ = await submit_license(client, vendor)
    agent = await create_agent(db, settings)
    agent_headers = auth_headers(await login_token(client, agent.email, agent.password))
    for headers in (vendor.headers, agent_headers):
        for method, path, body in admin_routes(vendor.store_id, license_["id"]):
            response = await call(client, method, path, body, headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["message"] == "role required"
    assert await scalar(db, "SELECT status FROM licenses") == "pending"
    assert await audits(db, "store.admin_override") == []


async def test_admins_have_no_store_context(
    client: httpx.AsyncClient, vendor: Account, admin: dict[str, str], db: Database
) -> None:
    license_ = await submit_license(client, vendor)
    for method, path, body in store_routes(license_["media_id"], license_["id"], license_["media_id"]):
        response = await call(client, method, path, body, admin)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["message"] == "store context missing"
    assert await scalar(db, "SELECT count(*) FROM licenses") == 1
