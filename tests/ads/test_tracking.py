"""Impressions and clicks (money-ads-analytics.md §2.6): counted once, within budget, refusals and outages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.ads.conftest import (
    break_ads_redis,
    click,
    counter,
    impression,
    mint_token,
    serve,
    set_ad,
    vendor_at,
    verified_buyer,
)
from tests.fixtures.ads import DEST, create_ad
from tests.fixtures.logs import LogCapture


async def _served(client: httpx.AsyncClient, db: Database, **ad: Any) -> tuple[Any, Any, dict[str, Any]]:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    await create_ad(client, vendor, **ad)
    served = await serve(client, buyer)
    assert served is not None
    return vendor, buyer, served


async def test_impression_counts_once_per_request(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    _, buyer, served = await _served(client, db, bid_cents=40)
    await set_ad(db, served["ad_id"], bid_cents=90)  # the bid that won the serve is what it costs
    for _ in range(3):
        response = await impression(client, buyer, served)
        assert response.status_code == 200
        assert response.json() == {"data": None}
    assert await counter(redis, "imps", served["ad_id"]) == 1
    assert await counter(redis, "spend", served["ad_id"]) == 40
    ttl = await redis.ttl(f"pf:ads:imps:{served['ad_id']}:{datetime.now(UTC).strftime('%Y%m%d')}")
    assert 7 * 86400 < ttl <= 8 * 86400
    second = await serve(client, buyer)
    assert second is not None
    assert (await impression(client, buyer, second)).status_code == 200
    assert await counter(redis, "imps", served["ad_id"]) == 2
    assert await counter(redis, "spend", served["ad_id"]) == 40 + 90
    metrics = (await client.get("/metrics")).text
    assert 'packfinderz_ads_tracking_total{kind="impression",result="duplicate"}' in metrics


async def test_impression_stops_at_the_budget(client: httpx.AsyncClient, db: Database, redis: Redis) -> None:
    _, buyer, _ = await _served(client, db, bid_cents=500, daily_budget_cents=1)  # two impressions fit
    results = []
    for _ in range(4):
        served = await serve(client, buyer)
        if served is None:
            results.append("not served")
            continue
        assert (await impression(client, buyer, served)).status_code == 200
        results.append(served["ad_id"])
    assert results[2:] == ["not served", "not served"]
    assert await counter(redis, "imps", results[0]) == 2
    assert await counter(redis, "spend", results[0]) == 1000


async def test_over_budget_impressions_are_not_counted(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    _, buyer, first = await _served(client, db, bid_cents=600, daily_budget_cents=1)  # one fits
    second = await serve(client, buyer)
    assert second is not None
    assert (await impression(client, buyer, first)).status_code == 200
    assert (await impression(client, buyer, second)).status_code == 200
    assert await counter(redis, "imps", first["ad_id"]) == 1
    assert await counter(redis, "spend", first["ad_id"]) == 600
    metrics = (await client.get("/metrics")).text
    assert 'packfinderz_ads_tracking_total{kind="impression",result="over_budget"}' in metrics


async def test_stale_and_no_longer_running_are_not_counted(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    _, buyer, served = await _served(client, db)
    old = datetime.now(UTC) - timedelta(hours=1, minutes=1)
    stale = {**served, "view_token": mint_token(settings, served, buyer.store_id, occurred_at=old)}
    assert (await impression(client, buyer, stale)).status_code == 200
    stale_click = {
        **served,
        "click_token": mint_token(settings, served, buyer.store_id, occurred_at=old, event_type="click"),
    }
    redirect = await click(client, buyer, stale_click)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == DEST
    await set_ad(db, served["ad_id"], status="paused")
    assert (await impression(client, buyer, served)).status_code == 200
    assert (await click(client, buyer, served)).status_code == 302
    assert await counter(redis, "imps", served["ad_id"]) == 0
    assert await counter(redis, "clicks", served["ad_id"]) == 0
    metrics = (await client.get("/metrics")).text
    assert 'packfinderz_ads_tracking_total{kind="impression",result="stale"}' in metrics
    assert 'packfinderz_ads_tracking_total{kind="impression",result="rejected"}' in metrics


async def test_impression_refusals(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    vendor, buyer, served = await _served(client, db)
    other_buyer = await verified_buyer(client, db)
    now = datetime.now(UTC)
    cases: list[tuple[Any, dict[str, Any]]] = [
        (buyer, {"view_token": "not.a.token", "request_id": served["request_id"]}),
        (buyer, {"view_token": served["click_token"], "request_id": served["request_id"]}),
        (buyer, {"view_token": served["view_token"], "request_id": str(uuid.uuid4())}),
        (other_buyer, {"view_token": served["view_token"], "request_id": served["request_id"]}),
        (
            buyer,
            {
                "view_token": mint_token(
                    settings, served, buyer.store_id, occurred_at=now - timedelta(days=31), expires_at=now
                ),
                "request_id": served["request_id"],
            },
        ),
        (
            buyer,
            {
                "view_token": served["view_token"][:-3]
                + ("AAA" if served["view_token"][-3:] != "AAA" else "BBB"),
                "request_id": served["request_id"],
            },
        ),
    ]
    for account, body in cases:
        response = await client.post("/api/v1/ads/impression", json=body, headers=account.headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == {
            "code": "VALIDATION_ERROR",
            "message": "invalid ad token",
            "details": None,
        }
    for body in ({"view_token": served["view_token"]}, {**served, "extra": 1}):
        response = await client.post("/api/v1/ads/impression", json=body, headers=buyer.headers)
        assert response.status_code == 400
    vendor_call = await impression(client, vendor, served)
    assert vendor_call.status_code == 403
    assert await counter(redis, "imps", served["ad_id"]) == 0


async def test_click_redirects_and_counts_once(client: httpx.AsyncClient, db: Database, redis: Redis) -> None:
    _, buyer, served = await _served(client, db)
    for _ in range(2):
        response = await click(client, buyer, served)
        assert response.status_code == 302
        assert response.headers["location"] == DEST
    assert await counter(redis, "clicks", served["ad_id"]) == 1
    assert await counter(redis, "spend", served["ad_id"]) == 0  # CPM: clicks cost nothing
    wrong_type = {**served, "click_token": served["view_token"]}
    assert (await click(client, buyer, wrong_type)).status_code == 400
    other = {**served, "request_id": str(uuid.uuid4())}
    assert (await click(client, buyer, other)).status_code == 400
    missing = await client.get(
        "/api/v1/ads/click", params={"token": served["click_token"]}, headers=buyer.headers
    )
    assert missing.status_code == 400


async def test_redis_down_fails_closed(
    app: FastAPI, client: httpx.AsyncClient, db: Database, redis: Redis, dead_redis: Redis
) -> None:
    _, buyer, served = await _served(client, db)
    break_ads_redis(app, dead_redis)
    response = await impression(client, buyer, served)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DEPENDENCY_ERROR"
    redirect = await click(client, buyer, served)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == DEST
    app.dependency_overrides.clear()
    assert await counter(redis, "imps", served["ad_id"]) == 0
    assert await counter(redis, "clicks", served["ad_id"]) == 0
    # The retry once Redis is back counts it.
    assert (await impression(client, buyer, served)).status_code == 200
    assert await counter(redis, "imps", served["ad_id"]) == 1


async def test_tokens_are_never_logged(client: httpx.AsyncClient, db: Database, logs: LogCapture) -> None:
    _, buyer, served = await _served(client, db)
    assert (await impression(client, buyer, served)).status_code == 200
    assert (await click(client, buyer, served)).status_code == 302
    bad = {**served, "request_id": str(uuid.uuid4())}
    assert (await impression(client, buyer, bad)).status_code == 400
    tracked = logs.events("ads.tracked")
    assert {(e["kind"], e["result"]) for e in tracked} == {("impression", "counted"), ("click", "counted")}
    assert logs.events("request.complete")
    for token in (served["view_token"], served["click_token"]):
        assert token not in logs.text
        assert token.split(".")[1] not in logs.text  # not even the claims part
