"""GET /api/v1/ads/serve (money-ads-analytics.md §2.4, §2.5): the gate, budgets, tie-break, tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from packfinderz.ads import tokens
from packfinderz.ads.serving import tie_break
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.ads.conftest import (
    ad_media,
    break_ads_redis,
    create_product,
    serve,
    set_ad,
    vendor_at,
    verified_buyer,
)
from tests.fixtures.ads import DEST, create_ad
from tests.fixtures.catalog import DALLAS, TULSA, buyer_at, set_radius
from tests.fixtures.factories import set_store_kyc, set_subscription_active


async def test_highest_bid_wins_and_tokens_carry_the_serve(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    low_vendor = await vendor_at(client, db)
    high_vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    await create_ad(client, low_vendor, bid_cents=10)
    media = await ad_media(db, high_vendor)
    high = await create_ad(
        client,
        high_vendor,
        bid_cents=30,
        creatives=[
            {"media_id": str(media), "destination_url": DEST, "headline": "First"},
            {"destination_url": "https://second.example.com", "headline": "Second"},
        ],
    )
    served = await serve(client, buyer)
    assert served is not None
    assert served["ad_id"] == high["id"]
    assert (served["placement"], served["target_type"]) == ("store", "store")
    assert served["target_id"] == str(high_vendor.store_id)
    first = high["creatives"][0]
    assert served["creative"] == {
        "id": first["id"],
        "media_url": first["media_url"],
        "destination_url": DEST,
        "headline": "First",
        "body": None,
    }
    assert str(uuid.UUID(served["request_id"])) == served["request_id"]
    secret = settings.effective_ads_token_secret
    view = tokens.parse(served["view_token"], secret)
    click = tokens.parse(served["click_token"], secret)
    assert (view.event_type, click.event_type) == ("impression", "click")
    assert view.token_id != click.token_id
    for token in (view, click):
        assert str(token.ad_id) == high["id"]
        assert str(token.creative_id) == first["id"]
        assert token.buyer_store_id == buyer.store_id
        assert token.request_id == served["request_id"]
        assert token.bid_cents == 30
        assert token.destination_url == DEST
        assert timedelta(days=29, hours=23) < token.expires_at - token.occurred_at <= timedelta(days=30)
    # Another placement has nothing; a vendor cannot ask; a bad placement is a 400.
    assert await serve(client, buyer, "hero") is None
    forbidden = await client.get(
        "/api/v1/ads/serve", params={"placement": "store"}, headers=low_vendor.headers
    )
    assert forbidden.status_code == 403
    for params in ({"placement": "banner"}, {}):
        response = await client.get("/api/v1/ads/serve", params=params, headers=buyer.headers)
        assert response.status_code == 400


async def test_equal_bids_break_ties_by_the_request_hash(client: httpx.AsyncClient, db: Database) -> None:
    vendors = [await vendor_at(client, db) for _ in range(3)]
    ads = {(await create_ad(client, v, bid_cents=20))["id"] for v in vendors}
    buyer = await verified_buyer(client, db)
    winners = set()
    for _ in range(12):
        served = await serve(client, buyer)
        assert served is not None
        day = datetime.now(UTC).strftime("%Y%m%d")
        expected = min(ads, key=lambda a: tie_break(served["request_id"], "store", day, uuid.UUID(a)))
        assert served["ad_id"] == expected
        winners.add(served["ad_id"])
    assert len(winners) > 1  # 12 requests over 3 tied ads: the hash spreads them


async def test_hidden_vendors_are_never_served(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await verified_buyer(client, db)
    unverified = await vendor_at(client, db)
    unsubscribed = await vendor_at(client, db)
    other_state = await vendor_at(client, db, DALLAS)
    far = await vendor_at(client, db, TULSA)
    for vendor in (unverified, unsubscribed, other_state, far):
        await create_ad(client, vendor, bid_cents=100)
    assert unverified.store_id
    assert unsubscribed.store_id
    await set_store_kyc(db, unverified.store_id, "suspended")
    await set_subscription_active(db, unsubscribed.store_id, False)
    await set_radius(db, far.store_id, 50_000)  # Tulsa is ~159 km from the buyer in Oklahoma City
    for _ in range(5):
        assert await serve(client, buyer) is None
    await set_radius(db, far.store_id, 0)  # statewide: visible again
    served = await serve(client, buyer)
    assert served is not None
    assert served["target_id"] == str(far.store_id)
    # A buyer in Tulsa sees the Tulsa vendor; the Dallas vendor stays hidden from Oklahoma buyers.
    tulsa_buyer = await buyer_at(client, TULSA)
    found = await serve(client, tulsa_buyer)
    assert found is not None
    assert found["target_id"] == str(far.store_id)


async def test_only_running_ads_with_live_targets(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    product = await create_product(client, vendor)
    ad = await create_ad(client, vendor, placement="product", target_type="product", target_id=product["id"])
    assert (await serve(client, buyer, "product")) is not None
    now = datetime.now(UTC)
    for values in (
        {"status": "paused"},
        {"status": "draft"},
        {"status": "archived"},
        {"starts_at": now + timedelta(hours=1)},
        {"ends_at": now - timedelta(minutes=1), "starts_at": now - timedelta(days=1)},
        {"daily_budget_cents": 0},
    ):
        await set_ad(db, ad["id"], **values)
        assert await serve(client, buyer, "product") is None, values
        await set_ad(db, ad["id"], status="active", starts_at=None, ends_at=None, daily_budget_cents=1000)
    assert (await serve(client, buyer, "product")) is not None
    deactivated = await client.patch(
        f"/api/v1/vendor/products/{product['id']}", json={"is_active": False}, headers=vendor.headers
    )
    assert deactivated.status_code == 200
    assert await serve(client, buyer, "product") is None


async def test_budget_hard_stop_reads_todays_spend(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    vendor = await vendor_at(client, db)
    cheap_vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    rich = await create_ad(client, vendor, bid_cents=50, daily_budget_cents=1)  # 1 000 millicents
    fallback = await create_ad(client, cheap_vendor, bid_cents=5)
    day = datetime.now(UTC).strftime("%Y%m%d")
    await redis.set(f"pf:ads:spend:{rich['id']}:{day}", 950)  # 950 + 50 = 1 000: still fits
    assert (await serve(client, buyer))["ad_id"] == rich["id"]  # type: ignore[index]
    await redis.set(f"pf:ads:spend:{rich['id']}:{day}", 951)
    assert (await serve(client, buyer))["ad_id"] == fallback["id"]  # type: ignore[index]
    # Yesterday's spend does not count today.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y%m%d")
    await redis.delete(f"pf:ads:spend:{rich['id']}:{day}")
    await redis.set(f"pf:ads:spend:{rich['id']}:{yesterday}", 10**9)
    assert (await serve(client, buyer))["ad_id"] == rich["id"]  # type: ignore[index]


async def test_redis_down_serves_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, dead_redis: Redis
) -> None:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    await create_ad(client, vendor)
    assert await serve(client, buyer) is not None
    break_ads_redis(app, dead_redis)
    response = await client.get("/api/v1/ads/serve", params={"placement": "store"}, headers=buyer.headers)
    assert response.status_code == 200
    assert response.json() == {"data": None}
    metrics = (await client.get("/metrics")).text
    assert 'packfinderz_ads_serve_total{placement="store",result="redis_unavailable"}' in metrics
