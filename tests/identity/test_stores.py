"""Stores and members (identity.md §8): profile read/update, member lists, my stores, public profiles."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.factories import (
    DEFAULT_ADDRESS,
    accept_invitations,
    invite,
    login,
    make_vendor_visible,
    register_body,
    register_buyer,
    register_vendor,
    set_store_kyc,
    set_subscription_active,
    unique_email,
)

PUBLIC_FIELDS = {
    "id",
    "type",
    "company_name",
    "dba_name",
    "description",
    "phone",
    "email",
    "kyc_status",
    "address",
    "delivery_radius_meters",
    "social",
    "logo_url",
    "banner_url",
    "ratings",
    "categories",
    "badge",
    "created_at",
    "updated_at",
    "licenses",
}
MEMBER_ONLY_FIELDS = {
    "subscription_active",
    "logo_media_id",
    "banner_media_id",
    "billing_customer_id",
    "owner",
    "last_active_at",
}


async def test_get_and_patch_my_store(client: httpx.AsyncClient) -> None:
    vendor = await register_vendor(client)
    me = await client.get("/api/v1/stores/me", headers=vendor.headers)
    assert me.status_code == 200
    store = me.json()["data"]
    assert set(store) == PUBLIC_FIELDS | MEMBER_ONLY_FIELDS
    assert "subscription_override" not in store
    assert "owner_user_id" not in store

    patch = {
        "dba_name": "The Greenhouse",
        "description": "Wholesale flower",
        "phone": "+1 405 555 0101",
        "email": " Sales@Example.com ",
        "social": {"website": "https://example.com", "instagram": "https://instagram.com/x"},
        "categories": ["flower", "edible", "flower"],
        "delivery_radius_meters": 25_000,
    }
    response = await client.patch("/api/v1/stores/me", json=patch, headers=vendor.headers)
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["dba_name"] == "The Greenhouse"
    assert updated["email"] == "sales@example.com"
    assert updated["social"] == {"website": "https://example.com", "instagram": "https://instagram.com/x"}
    assert updated["categories"] == ["flower", "edible"]
    assert updated["delivery_radius_meters"] == 25_000
    assert updated["address"] == store["address"]
    assert updated["type"] == "vendor"
    assert updated["updated_at"] > store["updated_at"]

    # absent = unchanged, null clears, lists replace
    cleared = await client.patch(
        "/api/v1/stores/me", json={"dba_name": None, "categories": ["vape"]}, headers=vendor.headers
    )
    data = cleared.json()["data"]
    assert data["dba_name"] is None
    assert data["categories"] == ["vape"]
    assert data["description"] == "Wholesale flower"
    assert data["phone"] == "+1 405 555 0101"
    assert (await client.get("/api/v1/stores/me", headers=vendor.headers)).json()["data"] == data
    empty = await client.patch("/api/v1/stores/me", json={}, headers=vendor.headers)
    assert empty.status_code == 200
    assert empty.json()["data"]["categories"] == ["vape"]


async def test_the_delivery_radius_is_a_json_integer_and_never_null(client: httpx.AsyncClient) -> None:
    """Issue #18: `25000.0` is a JSON Schema integer; null, strings and fractions are refused."""
    vendor = await register_vendor(client)
    before = (await client.get("/api/v1/stores/me", headers=vendor.headers)).json()["data"]
    for value in (None, "25000", 25000.5, 10**23):
        refused = await client.patch(
            "/api/v1/stores/me", json={"delivery_radius_meters": value}, headers=vendor.headers
        )
        assert refused.status_code == 400, value
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "delivery_radius_meters" in refused.json()["error"]["details"], value
    unchanged = (await client.get("/api/v1/stores/me", headers=vendor.headers)).json()["data"]
    assert unchanged["delivery_radius_meters"] == before["delivery_radius_meters"]
    response = await client.patch(
        "/api/v1/stores/me", json={"delivery_radius_meters": 25000.0}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["delivery_radius_meters"] == 25000


async def test_buyers_have_no_delivery_radius(client: httpx.AsyncClient) -> None:
    buyer = await register_buyer(client)
    response = await client.patch(
        "/api/v1/stores/me", json={"delivery_radius_meters": 100}, headers=buyer.headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "delivery_radius_meters": "only vendor stores have a delivery radius"
    }


async def test_members_list_paginates(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    emails = [unique_email(f"m{i}") for i in range(4)]
    for email in emails:
        await invite(client, owner, email=email)
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/stores/me/users{query}", headers=owner.headers)).json()["data"]
        seen += [m["email"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*reversed(emails), owner.email]  # newest first
    member = (await client.get("/api/v1/stores/me/users?limit=1", headers=owner.headers)).json()["data"][
        "items"
    ][0]
    assert set(member) == {
        "membership_id",
        "store_id",
        "user_id",
        "email",
        "first_name",
        "last_name",
        "role",
        "membership_status",
        "invited_by_user_id",
        "invite_expires_at",
        "last_login_at",
        "created_at",
    }


async def test_remove_unknown_member_is_404(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    stranger = await register_vendor(client)
    for user_id in (uuid.uuid4(), stranger.user_id):
        response = await client.delete(f"/api/v1/stores/me/users/{user_id}", headers=owner.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_my_stores(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client, company_name="First")
    body = register_body(store_type="vendor", email=owner.email, company_name="Second")
    second = (await client.post("/api/v1/auth/register", json=body, headers={"Idempotency-Key": "s2"})).json()
    other = await register_vendor(client, company_name="Third")
    await invite(client, other, email=owner.email, role="ops")  # invited: not listed until accepted
    response = await client.get("/api/v1/stores/my", headers=owner.headers)
    assert response.status_code == 200
    items = response.json()["data"]["items"]
    assert [(s["name"], s["role"]) for s in items] == [("Second", "owner"), ("First", "owner")]
    assert items[0]["id"] == second["data"]["store"]["id"]
    account = await login(client, owner.email, owner.password)
    listed = (await client.get("/api/v1/stores/my", headers=account.headers)).json()["data"]["items"]
    assert "Third" not in {s["name"] for s in listed}  # a login no longer accepts it (issue #17)
    await accept_invitations(client, account)
    listed = (await client.get("/api/v1/stores/my", headers=account.headers)).json()["data"]["items"]
    assert next((s["name"], s["role"], s["type"]) for s in listed) == ("Third", "ops", "vendor")
    page = (await client.get("/api/v1/stores/my?limit=2", headers=account.headers)).json()["data"]
    assert len(page["items"]) == 2
    assert page["next_cursor"] is not None


async def test_public_profile_of_any_store(client: httpx.AsyncClient) -> None:
    buyer = await register_buyer(client)
    vendor = await register_vendor(client)
    response = await client.get(f"/api/v1/stores/{buyer.store_id}", headers=vendor.headers)
    assert response.status_code == 200
    profile = response.json()["data"]
    assert set(profile) == PUBLIC_FIELDS
    assert profile["id"] == str(buyer.store_id)
    own = await client.get(f"/api/v1/stores/{vendor.store_id}", headers=vendor.headers)
    assert own.status_code == 200
    missing = await client.get(f"/api/v1/stores/{uuid.uuid4()}", headers=vendor.headers)
    assert missing.status_code == 404


async def test_buyers_see_vendors_only_through_the_visibility_gate(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await register_buyer(client)
    vendor = await register_vendor(client)
    path = f"/api/v1/stores/{vendor.store_id}"

    async def status() -> int:
        return (await client.get(path, headers=buyer.headers)).status_code

    assert await status() == 404  # pending KYC, no subscription
    await set_store_kyc(db, vendor.store_id, "verified")  # type: ignore[arg-type]
    assert await status() == 404  # still no subscription
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]
    assert await status() == 200
    await set_store_kyc(db, vendor.store_id, "suspended")  # type: ignore[arg-type]
    assert await status() == 404
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]
    await set_subscription_active(db, vendor.store_id, False)  # type: ignore[arg-type]
    assert await status() == 404
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]

    async with db.transaction() as session:  # another state: hidden
        await session.execute(
            text("UPDATE stores SET address_state = 'TX' WHERE id = :id"), {"id": vendor.store_id}
        )
    assert await status() == 404
    async with db.transaction() as session:  # same state, radius 1 km, buyer ~11 km away: hidden
        await session.execute(
            text(
                "UPDATE stores SET address_state = 'OK', delivery_radius_meters = 1000, lat = lat + 0.1 "
                "WHERE id = :id"
            ),
            {"id": vendor.store_id},
        )
    assert await status() == 404
    async with db.transaction() as session:  # radius 20 km: visible
        await session.execute(
            text("UPDATE stores SET delivery_radius_meters = 20000 WHERE id = :id"), {"id": vendor.store_id}
        )
    assert await status() == 200


async def test_store_address_is_validated(client: httpx.AsyncClient) -> None:
    address: dict[str, Any] = {**DEFAULT_ADDRESS, "state": "OK", "country": "US", "line2": "Suite 5"}
    account = await register_buyer(client, address=address)
    stored = account.body["store"]["address"]
    assert (stored["state"], stored["country"], stored["line2"]) == ("OK", "US", "Suite 5")


async def add_license(db: Database, account: Any, number: str, status: str) -> None:
    """A license row (and its document media) written directly: licenses have their own tests."""
    media_id = uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO media (id, store_id, user_id, kind, status, storage_key, file_name, "
                "mime_type, size_bytes) "
                "VALUES (:id, :s, :u, 'license_doc', 'uploaded', :key, 'l.pdf', 'application/pdf', 10)"
            ),
            {
                "id": media_id,
                "s": account.store_id,
                "u": account.user_id,
                "key": f"{account.store_id}/{media_id}",
            },
        )
        await session.execute(
            text(
                "INSERT INTO licenses (store_id, user_id, status, media_id, issuing_state, type, number) "
                "VALUES (:s, :u, :status, :m, 'OK', 'producer', :n)"
            ),
            {"s": account.store_id, "u": account.user_id, "status": status, "m": media_id, "n": number},
        )


async def test_profiles_list_licenses(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await register_vendor(client)
    buyer = await register_buyer(client)
    await add_license(db, vendor, "OK-VERIFIED-1", "verified")
    await add_license(db, vendor, "OK-PENDING-2", "pending")
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]
    mine = (await client.get("/api/v1/stores/me", headers=vendor.headers)).json()["data"]["licenses"]
    assert {(lic["number"], lic["status"]) for lic in mine} == {
        ("OK-VERIFIED-1", "verified"),
        ("OK-PENDING-2", "pending"),
    }
    assert set(mine[0]) == {"id", "number", "type", "issuing_state", "status", "expiration_date"}
    public = (await client.get(f"/api/v1/stores/{vendor.store_id}", headers=buyer.headers)).json()["data"][
        "licenses"
    ]
    assert public == [
        {"number": "OK-VERIFIED-1", "type": "producer", "issuing_state": "OK", "expiration_date": None}
    ]


async def add_media(
    db: Database, account: Any, *, kind: str = "store", status: str = "uploaded"
) -> uuid.UUID:
    """A media row written directly (media have their own tests)."""
    media_id = uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO media (id, store_id, user_id, kind, status, storage_key, file_name, "
                "mime_type, size_bytes, public_url) "
                "VALUES (:id, :s, :u, :kind, :status, :key, 'logo.png', 'image/png', 10, :url)"
            ),
            {
                "id": media_id,
                "s": account.store_id,
                "u": account.user_id,
                "kind": kind,
                "status": status,
                "key": f"{account.store_id}/{kind}/{media_id}.png",
                "url": f"https://cdn.example/{media_id}.png",
            },
        )
    return media_id


async def attachments(db: Database, store_id: Any) -> set[tuple[str, uuid.UUID]]:
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT entity_type, media_id FROM media_attachments WHERE entity_id = :id"),
            {"id": store_id},
        )
        return {(r[0], r[1]) for r in rows}


async def test_logo_and_banner(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await register_vendor(client)
    other = await register_buyer(client)
    logo, banner = await add_media(db, vendor), await add_media(db, vendor)
    response = await client.patch(
        "/api/v1/stores/me",
        json={"logo_media_id": str(logo), "banner_media_id": str(banner)},
        headers=vendor.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["logo_media_id"], data["logo_url"]) == (str(logo), f"https://cdn.example/{logo}.png")
    assert (data["banner_media_id"], data["banner_url"]) == (str(banner), f"https://cdn.example/{banner}.png")
    assert await attachments(db, vendor.store_id) == {("store_logo", logo), ("store_banner", banner)}
    summary = (await client.get("/api/v1/stores/my", headers=vendor.headers)).json()["data"]["items"][0]
    assert summary["logo_url"] == f"https://cdn.example/{logo}.png"

    refusals = [
        # issue #18: an unknown media is a 404 (schema-valid input), another store's the same (issue #17)
        (await add_media(db, other), 404, "media not found"),
        (await add_media(db, vendor, kind="product"), 400, "must be media of kind store"),
        (uuid.uuid4(), 404, "media not found"),
        (await add_media(db, vendor, status="pending"), 409, "media not ready"),
    ]
    for media_id, status, message in refusals:
        refused = await client.patch(
            "/api/v1/stores/me", json={"logo_media_id": str(media_id)}, headers=vendor.headers
        )
        assert refused.status_code == status, message
        assert message in refused.text
    assert await attachments(db, vendor.store_id) == {("store_logo", logo), ("store_banner", banner)}

    cleared = await client.patch("/api/v1/stores/me", json={"logo_media_id": None}, headers=vendor.headers)
    assert (cleared.json()["data"]["logo_media_id"], cleared.json()["data"]["logo_url"]) == (None, None)
    assert await attachments(db, vendor.store_id) == {("store_banner", banner)}
