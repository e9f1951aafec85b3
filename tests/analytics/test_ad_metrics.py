"""The analytics part of GET /api/v1/vendor/ads/{adId} (money-ads-analytics.md §3.5): impressions,
clicks and spend from the ad's rollups and Redis counters, conversions and revenue from the warehouse's
`conversion` rows (distinct attributed orders), ratios to 4 decimals; 503 when the warehouse fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.warehouse.postgres import PostgresWarehouse
from tests.fixtures.ads import create_ad
from tests.fixtures.catalog import vendor_at


def conversion(
    ad_id: uuid.UUID, vendor: uuid.UUID, order: uuid.UUID, revenue: int, at: datetime
) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": at,
        "type": "conversion",
        "ad_id": ad_id,
        "vendor_store_id": vendor,
        "attributed_order_id": order,
        "revenue_cents": revenue,
        "payload": {},
    }


async def test_ad_metrics_combine_rollups_counters_and_conversions(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    vendor = await vendor_at(client, db)
    assert vendor.store_id is not None
    ad = await create_ad(client, vendor, daily_budget_cents=3000)
    ad_id = uuid.UUID(ad["id"])
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    at = datetime.combine(yesterday, time(10), UTC)
    first, second = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as session:
        await PostgresWarehouse("analytics").write(
            session,
            [],
            [
                conversion(ad_id, vendor.store_id, first, 5000, at),
                conversion(ad_id, vendor.store_id, second, 2500, at),
                # Another token of the same ad on the same order: still one conversion.
                conversion(ad_id, vendor.store_id, first, 5000, at + timedelta(hours=1)),
                # Another ad's conversion is not this ad's.
                conversion(uuid.uuid4(), vendor.store_id, uuid.uuid4(), 9999, at),
            ],
        )
        await session.execute(
            text(
                "INSERT INTO ad_daily_rollups (ad_id, day, vendor_store_id, impressions, clicks, "
                "spend_millicents, spend_cents) VALUES (:a, :d, :v, 1000, 30, 1500000, 1500)"
            ),
            {"a": ad_id, "d": yesterday, "v": vendor.store_id},
        )
    stamp = today.strftime("%Y%m%d")
    await redis.set(f"pf:ads:imps:{ad_id}:{stamp}", 400)
    await redis.set(f"pf:ads:clicks:{ad_id}:{stamp}", 8)
    await redis.set(
        f"pf:ads:spend:{ad_id}:{stamp}", 9_999_500
    )  # 9 999.5 ¢ raw → capped at the 3 000 ¢ budget
    await redis.set(f"pf:ads:imps:{ad_id}:{yesterday.strftime('%Y%m%d')}", 999)  # the rollup wins
    response = await client.get(
        f"/api/v1/vendor/ads/{ad_id}", params={"preset": "7d"}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    analytics = response.json()["data"]["analytics"]
    assert analytics["metrics"] == {
        "impressions": 1400,
        "clicks": 38,
        "conversions": 2,
        "spend_cents": 4500,
        "revenue_cents": 7500,
        "roas": 1.6667,
        "ctr": 0.0271,
        "cpc_cents": 118,
        "cpm_cents": 3214,
    }
    days = {p["date"]: p for p in analytics["series"]}
    assert days[yesterday.isoformat()] == {
        "date": yesterday.isoformat(),
        "impressions": 1000,
        "clicks": 30,
        "conversions": 2,
        "spend_cents": 1500,
        "revenue_cents": 7500,
    }
    assert days[today.isoformat()]["spend_cents"] == 3000


async def test_a_failing_warehouse_makes_the_ad_page_503(app_settings: Settings, db: Database) -> None:
    broken = create_app(app_settings.model_copy(update={"warehouse_pg_schema": "no_such_schema"}))
    async with broken.router.lifespan_context(broken):
        transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            vendor = await vendor_at(client, db)
            ad = await create_ad(client, vendor)
            response = await client.get(f"/api/v1/vendor/ads/{ad['id']}", headers=vendor.headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["details"] == {"dependency": "warehouse"}
