"""Admin user views (identity.md §9.2): list with filters, one user with memberships."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.factories import admin_headers, create_agent, invite, register_buyer, register_vendor


async def test_list_users_with_filters(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    buyer = await register_buyer(client, email="zed-buyer@example.com")
    vendor = await register_vendor(client, email="amy-vendor@example.com")
    agent = await create_agent(db, settings, email="zed_agent@example.com")
    headers = await admin_headers(client, db, settings)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE users SET is_active = false WHERE id = :id"), {"id": vendor.user_id}
        )

    async def emails(query: str) -> list[str]:
        response = await client.get(f"/api/admin/v1/users{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [u["email"] for u in response.json()["data"]["items"]]

    everyone = await emails("")
    assert everyone[1:] == [agent.email, vendor.email, buyer.email]  # newest first, after the admin
    assert await emails("?email=ZED") == [agent.email, buyer.email]
    assert await emails("?email=zed_") == [agent.email]  # `_` is literal, not a wildcard
    assert await emails("?system_role=agent") == [agent.email]
    assert await emails("?is_active=false") == [vendor.email]
    assert await emails("?system_role=agent&is_active=false") == []
    page = (await client.get("/api/admin/v1/users?limit=2", headers=headers)).json()["data"]
    rest = (
        await client.get(f"/api/admin/v1/users?limit=2&cursor={page['next_cursor']}", headers=headers)
    ).json()["data"]
    assert [u["email"] for u in page["items"] + rest["items"]] == everyone
    user = page["items"][0]
    assert "password_hash" not in user
    assert "password_changed_at" not in user
    for query in ("?system_role=owner", "?is_active=maybe", "?limit=500"):
        response = await client.get(f"/api/admin/v1/users{query}", headers=headers)
        assert response.status_code == 400, query


async def test_get_user_with_memberships(client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    owner = await register_buyer(client, company_name="Bravo")
    other = await register_vendor(client, company_name="Alpha")
    await invite(client, other, email=owner.email, role="ops")
    headers = await admin_headers(client, db, settings)
    response = await client.get(f"/api/admin/v1/users/{owner.user_id}", headers=headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == str(owner.user_id)
    assert data["memberships"] == [
        {"store_id": str(other.store_id), "company_name": "Alpha", "role": "ops", "status": "invited"},
        {"store_id": str(owner.store_id), "company_name": "Bravo", "role": "owner", "status": "active"},
    ]
    assert (await client.get(f"/api/admin/v1/users/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.get("/api/admin/v1/users/123", headers=headers)).status_code == 400
    denied = await client.get(f"/api/admin/v1/users/{owner.user_id}", headers=owner.headers)
    assert denied.status_code == 403


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "missing credentials"
    garbage = await client.post("/api/v1/auth/logout", headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401
    assert garbage.json()["error"]["message"] == "invalid token"
