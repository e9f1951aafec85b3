"""`/api/v1/vendor/ads` (money-ads-analytics.md §2.2, §2.3): create, list, detail, lifecycle, refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from packfinderz.kit.db import Database
from tests.ads.conftest import (
    ad_media,
    ad_row,
    count_rows,
    create_product,
    rows,
    set_ad,
    vendor_at,
    verified_buyer,
)
from tests.fixtures.ads import DEST, ad_body, create_ad, post_ad
from tests.fixtures.checkout import staff_member
from tests.fixtures.factories import (
    accept_invitations,
    idem,
    invite,
    login,
    register_vendor,
    set_store_kyc,
    set_subscription_active,
)
from tests.fixtures.factories import switch_store as switch


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


async def _patch(client: httpx.AsyncClient, vendor: Any, ad_id: Any, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(f"/api/v1/vendor/ads/{ad_id}", json=body, headers=vendor.headers)


async def test_create_writes_ad_creatives_and_attachments_in_one_go(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    media = await ad_media(db, vendor)
    product = await create_product(client, vendor)
    starts = datetime.now(UTC) - timedelta(hours=1)
    ad = await create_ad(
        client,
        vendor,
        placement="hero",
        target_type="product",
        target_id=product["id"],
        starts_at=starts.isoformat(),
        creatives=[
            {"media_id": str(media), "destination_url": DEST, "headline": "One"},
            {"destination_url": "http://vendor.example.com/two", "body": "Two"},
        ],
    )
    assert ad["status"] == "active"
    assert ad["placement"] == "hero"
    assert ad["target_type"] == "product"
    assert ad["target_id"] == product["id"]
    assert ad["budget_state"] == "available"
    assert ad["paused_reason"] is None
    assert ad["ends_at"] is None
    assert [c["headline"] for c in ad["creatives"]] == ["One", None]
    assert ad["creatives"][0]["media_id"] == str(media)
    assert ad["creatives"][0]["media_url"].endswith(".png")
    assert ad["creatives"][1]["media_url"] is None
    attachments = await rows(db, "SELECT entity_type, entity_id, media_id FROM media_attachments")
    assert attachments == [{"entity_type": "ad", "entity_id": uuid.UUID(ad["id"]), "media_id": media}]
    # The attachment is protected: the media cannot be deleted while the ad uses it.
    deleted = await client.delete(f"/api/v1/media/{media}", headers=vendor.headers)
    assert _error(deleted, 409)["message"].startswith("media has protected attachments")


async def test_create_needs_an_idempotency_key_and_replays(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    missing = await client.post("/api/v1/vendor/ads", json=ad_body(vendor), headers=vendor.headers)
    _error(missing, 400)
    headers = {**vendor.headers, **idem("same-key")}
    first = await client.post("/api/v1/vendor/ads", json=ad_body(vendor), headers=headers)
    again = await client.post("/api/v1/vendor/ads", json=ad_body(vendor), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await count_rows(db, "ads") == 1


async def test_type_table_and_targets_are_enforced(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    other = await vendor_at(client, db)
    product = await create_product(client, vendor)
    inactive = await create_product(client, vendor, is_active=False)
    foreign_product = await create_product(client, other)
    cases = [
        ({"placement": "store", "target_type": "product", "target_id": product["id"]}, "target_type"),
        ({"placement": "product", "target_type": "store"}, "target_type"),
        ({"placement": "store", "target_id": str(other.store_id)}, "target_id"),
        ({"placement": "product", "target_type": "product", "target_id": foreign_product["id"]}, "target_id"),
        ({"placement": "hero", "target_type": "product", "target_id": inactive["id"]}, "target_id"),
        ({"placement": "hero", "target_type": "product", "target_id": str(uuid.uuid4())}, "target_id"),
        ({"placement": "banner"}, "placement"),
        ({"status": "paused"}, "status"),
        ({"bid_cents": -1}, "bid_cents"),
        ({"daily_budget_cents": -5}, "daily_budget_cents"),
        ({"bid_cents": "10"}, "bid_cents"),
        ({"creatives": []}, "creatives"),
        ({"creatives": [{"destination_url": DEST}] * 6}, "creatives"),
        ({"creatives": [{"destination_url": "ftp://x.example.com"}]}, "creatives.0.destination_url"),
        ({"creatives": [{"destination_url": DEST, "headline": "h" * 91}]}, "creatives.0.headline"),
        ({"creatives": [{"destination_url": DEST, "body": "b" * 251}]}, "creatives.0"),  # `body` leaves paths
        ({"creatives": [{"destination_url": DEST, "extra": 1}]}, "creatives.0.extra"),
        ({"unknown": True}, "unknown"),
    ]
    for overrides, field in cases:
        response = await post_ad(client, vendor, ad_body(vendor, **overrides))
        error = _error(response, 400)
        assert error["code"] == "VALIDATION_ERROR"
        assert any(key.startswith(field) for key in error["details"]), (overrides, error)
    now = datetime.now(UTC)
    window = await post_ad(
        client,
        vendor,
        ad_body(vendor, starts_at=now.isoformat(), ends_at=(now - timedelta(days=1)).isoformat()),
    )
    _error(window, 400)
    assert await count_rows(db, "ads") == 0


async def test_creative_media_rules(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    other = await vendor_at(client, db)
    wrong_kind = await ad_media(db, vendor, kind="product")
    foreign = await ad_media(db, other)
    pending = await ad_media(db, vendor, status="pending")
    for media_id, message in (
        (wrong_kind, "must be media of kind ads"),
        (foreign, "media belongs to different store"),
        (uuid.uuid4(), "media not found"),
    ):
        body = ad_body(vendor, creatives=[{"media_id": str(media_id), "destination_url": DEST}])
        error = _error(await post_ad(client, vendor, body), 400)
        assert error["details"] == {"creatives.0.media_id": message}
    body = ad_body(vendor, creatives=[{"media_id": str(pending), "destination_url": DEST}])
    error = _error(await post_ad(client, vendor, body), 409)
    assert error["message"] == "media not ready"
    assert await count_rows(db, "ads") == 0
    assert await count_rows(db, "media_attachments") == 0


async def test_activation_needs_subscription_and_verified_kyc(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    assert vendor.store_id is not None
    await set_subscription_active(db, vendor.store_id, False)
    error = _error(await post_ad(client, vendor, ad_body(vendor)), 422)
    assert error["code"] == "STATE_CONFLICT"
    draft = await create_ad(client, vendor, status="draft")
    _error(await _patch(client, vendor, draft["id"], {"status": "active"}), 422)
    await set_subscription_active(db, vendor.store_id, True)
    await set_store_kyc(db, vendor.store_id, "suspended")
    _error(await _patch(client, vendor, draft["id"], {"status": "active"}), 422)
    assert (await ad_row(db, draft["id"]))["status"] == "draft"
    await set_store_kyc(db, vendor.store_id, "verified")
    activated = await _patch(client, vendor, draft["id"], {"status": "active"})
    assert activated.status_code == 200, activated.text
    assert activated.json()["data"]["status"] == "active"


async def test_lifecycle_transitions(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor, status="draft")
    # draft → paused and active → draft are not moves of §2.2.
    _error(await _patch(client, vendor, ad["id"], {"status": "paused"}), 422)
    assert (await _patch(client, vendor, ad["id"], {"status": "active"})).status_code == 200
    _error(await _patch(client, vendor, ad["id"], {"status": "draft"}), 422)
    paused = await _patch(client, vendor, ad["id"], {"status": "paused"})
    assert paused.json()["data"]["status"] == "paused"
    # A billing pause is cleared by the vendor's re-activation.
    await set_ad(db, ad["id"], paused_reason="billing_failed")
    resumed = (await _patch(client, vendor, ad["id"], {"status": "active"})).json()["data"]
    assert (resumed["status"], resumed["paused_reason"]) == ("active", None)
    _error(await _patch(client, vendor, ad["id"], {"status": "expired"}), 400)
    _error(await _patch(client, vendor, ad["id"], {"status": None}), 400)


async def test_patch_fields_and_creatives_replace_and_reconcile(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    first, second = await ad_media(db, vendor), await ad_media(db, vendor)
    ad = await create_ad(client, vendor, creatives=[{"media_id": str(first), "destination_url": DEST}])
    ends = datetime.now(UTC) + timedelta(days=10)
    response = await _patch(
        client,
        vendor,
        ad["id"],
        {
            "bid_cents": 25,
            "daily_budget_cents": 5000,
            "ends_at": ends.isoformat(),
            "creatives": [
                {"media_id": str(second), "destination_url": DEST, "headline": "A"},
                {"destination_url": DEST, "headline": "B"},
            ],
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["bid_cents"], data["daily_budget_cents"]) == (25, 5000)
    assert datetime.fromisoformat(data["ends_at"]) == ends
    assert [c["headline"] for c in data["creatives"]] == ["A", "B"]
    attached = await rows(db, "SELECT media_id FROM media_attachments WHERE entity_type = 'ad'")
    assert attached == [{"media_id": second}]
    # ends_at before starts_at is refused; a null clears.
    bad = await _patch(client, vendor, ad["id"], {"starts_at": (ends + timedelta(days=1)).isoformat()})
    _error(bad, 400)
    cleared = (await _patch(client, vendor, ad["id"], {"ends_at": None})).json()["data"]
    assert cleared["ends_at"] is None


async def test_expired_and_archived_are_read_only_and_delete_is_idempotent(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor)
    await set_ad(db, ad["id"], status="expired")
    error = _error(await _patch(client, vendor, ad["id"], {"bid_cents": 1}), 422)
    assert error["code"] == "STATE_CONFLICT"
    other = await create_ad(client, vendor)
    for _ in range(2):
        deleted = await client.delete(f"/api/v1/vendor/ads/{other['id']}", headers=vendor.headers)
        assert deleted.status_code == 204
    assert (await ad_row(db, other["id"]))["status"] == "archived"
    _error(await _patch(client, vendor, other["id"], {"status": "active"}), 422)


async def test_list_filters_total_and_pages(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    other = await vendor_at(client, db)
    product = await create_product(client, vendor)
    store_ads = [await create_ad(client, vendor) for _ in range(3)]
    product_ad = await create_ad(
        client, vendor, status="draft", placement="product", target_type="product", target_id=product["id"]
    )
    await create_ad(client, other)
    response = await client.get("/api/v1/vendor/ads", params={"limit": 2}, headers=vendor.headers)
    page = response.json()["data"]
    assert page["total"] == 4
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = await client.get(
        "/api/v1/vendor/ads", params={"limit": 2, "cursor": page["next_cursor"]}, headers=vendor.headers
    )
    seen = [a["id"] for a in page["items"] + rest.json()["data"]["items"]]
    assert seen == [product_ad["id"], *reversed([a["id"] for a in store_ads])]
    for params, expected in (
        ({"status": "draft"}, [product_ad["id"]]),
        ({"placement": "store"}, [a["id"] for a in reversed(store_ads)]),
        ({"target_type": "product", "target_id": product["id"]}, [product_ad["id"]]),
    ):
        found = (await client.get("/api/v1/vendor/ads", params=params, headers=vendor.headers)).json()["data"]
        assert [a["id"] for a in found["items"]] == expected
        assert found["total"] == len(expected)
    for params in ({"status": "gone"}, {"placement": "x"}, {"limit": 0}, {"cursor": "!!"}):
        _error(await client.get("/api/v1/vendor/ads", params=params, headers=vendor.headers), 400)


async def test_detail_has_analytics_and_range_rules(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor, bid_cents=1500, daily_budget_cents=100)
    today = datetime.now(UTC).strftime("%Y%m%d")
    await redis.set(f"pf:ads:imps:{ad['id']}:{today}", 40)
    await redis.set(f"pf:ads:clicks:{ad['id']}:{today}", 2)
    await redis.set(f"pf:ads:spend:{ad['id']}:{today}", 60_000)
    response = await client.get(
        f"/api/v1/vendor/ads/{ad['id']}", params={"preset": "7d"}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["ad"]["id"] == ad["id"]
    metrics = data["analytics"]["metrics"]
    # 60 000 millicents = 60 ¢ of raw spend; one more 1 500-millicent impression still fits the 100 ¢ budget.
    assert (metrics["impressions"], metrics["clicks"], metrics["spend_cents"]) == (40, 2, 60)
    assert metrics["ctr"] == 0.05
    assert metrics["cpc_cents"] == 30
    assert metrics["cpm_cents"] == 1500
    assert len(data["analytics"]["series"]) in (7, 8)
    assert data["analytics"]["series"][-1]["impressions"] == 40
    assert data["ad"]["budget_state"] == "available"
    await redis.set(f"pf:ads:spend:{ad['id']}:{today}", 99_000)
    again = await client.get(f"/api/v1/vendor/ads/{ad['id']}", headers=vendor.headers)
    assert again.json()["data"]["ad"]["budget_state"] == "exhausted"
    for params in (
        {"preset": "1y"},
        {"from": "2026-01-01"},
        {"from": "2026-01-02", "to": "2026-01-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"preset": "7d", "from": "2026-01-01", "to": "2026-01-02"},
        {"from": "yesterday", "to": "2026-01-02"},
    ):
        _error(await client.get(f"/api/v1/vendor/ads/{ad['id']}", params=params, headers=vendor.headers), 400)
    custom = await client.get(
        f"/api/v1/vendor/ads/{ad['id']}",
        params={"from": "2026-01-01", "to": "2026-01-03"},
        headers=vendor.headers,
    )
    assert custom.status_code == 200, custom.text


async def test_roles_types_and_tenancy(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    ad = await create_ad(client, vendor)
    other = await vendor_at(client, db)
    for method, path, body in (
        ("GET", f"/api/v1/vendor/ads/{ad['id']}", None),
        ("PATCH", f"/api/v1/vendor/ads/{ad['id']}", {"bid_cents": 1}),
        ("DELETE", f"/api/v1/vendor/ads/{ad['id']}", None),
        ("GET", f"/api/v1/vendor/ads/{uuid.uuid4()}", None),
    ):
        response = await client.request(method, path, json=body, headers=other.headers)
        assert _error(response, 404)["code"] == "NOT_FOUND"
    listed = (await client.get("/api/v1/vendor/ads", headers=other.headers)).json()["data"]
    assert listed["items"] == []
    assert listed["total"] == 0
    staff = await staff_member(client, vendor)
    _error(await post_ad(client, staff, ad_body(vendor)), 403)
    _error(
        await client.patch(f"/api/v1/vendor/ads/{ad['id']}", json={"bid_cents": 1}, headers=staff.headers),
        403,
    )
    _error(await client.delete(f"/api/v1/vendor/ads/{ad['id']}", headers=staff.headers), 403)
    assert (await client.get(f"/api/v1/vendor/ads/{ad['id']}", headers=staff.headers)).status_code == 200
    manager_account = await register_vendor(client)
    await invite(client, vendor, email=manager_account.email, role="manager")
    assert vendor.store_id is not None
    signed_in = await login(client, manager_account.email, manager_account.password)
    await accept_invitations(client, signed_in)  # an existing user joins by consent (issue #17)
    manager = await switch(client, signed_in, vendor.store_id)
    assert (await _patch(client, manager, ad["id"], {"bid_cents": 11})).status_code == 200
    buyer = await verified_buyer(client, db)
    _error(await client.get("/api/v1/vendor/ads", headers=buyer.headers), 403)
    _error(await post_ad(client, buyer, ad_body(vendor)), 403)
    _error(await client.get("/api/v1/vendor/ads"), 401)
