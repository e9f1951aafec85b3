"""The budget is never overspent (money-ads-analytics.md §2.6): concurrent impressions, two api instances."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from packfinderz.ads.jobs import run_rollup
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.ads.conftest import counter, impression, scalar, serve, vendor_at, verified_buyer
from tests.fixtures.ads import create_ad
from tests.fixtures.apps import serve as serve_app

N = 4  # impressions the daily budget holds exactly
BID = 250  # CPM cents: one impression costs 250 millicents
BUDGET = 1  # cents: 1 000 millicents = N x BID


def _tracked(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "packfinderz_ads_tracking_total", {"kind": "impression", "result": result}
    )
    return value or 0.0


async def test_concurrent_impressions_from_two_instances_never_overspend(
    app_settings: Settings, db: Database, redis: Redis
) -> None:
    n, bid, budget = N, BID, BUDGET
    assert n * bid == budget * 1000
    async with serve_app(app_settings) as first, serve_app(app_settings) as second:
        vendor = await vendor_at(first, db)
        buyers = [await verified_buyer(first, db) for _ in range(2)]
        ad = await create_ad(first, vendor, bid_cents=bid, daily_budget_cents=budget)
        # 20·N distinct serves, all before any impression is counted (each buyer alternates instances).
        served = []
        for index in range(20 * n):
            buyer = buyers[index % 2]
            client = first if index % 2 else second
            found = await serve(client, buyer)
            assert found is not None
            assert found["ad_id"] == ad["id"]
            served.append((buyer, found))
        assert len({s["request_id"] for _, s in served}) == 20 * n
        counted_before, over_before = _tracked("counted"), _tracked("over_budget")

        async def fire(index: int) -> int:
            buyer, found = served[index]
            client = first if index % 2 == 0 else second
            return (await impression(client, buyer, found)).status_code

        statuses = await asyncio.gather(*(fire(i) for i in range(len(served))))
        assert Counter(statuses) == {200: 20 * n}
        assert await counter(redis, "imps", ad["id"]) == n
        assert await counter(redis, "spend", ad["id"]) == budget * 1000
        assert _tracked("counted") - counted_before == n
        assert _tracked("over_budget") - over_before == 19 * n
        # Serving stops offering it, from either instance.
        for client in (first, second):
            assert await serve(client, buyers[0]) is None
        # The day's billed spend equals the budget.
        today = datetime.now(UTC).date()
        await run_rollup(db, redis, today, datetime.now(UTC))
        assert await scalar(db, "SELECT spend_cents FROM ad_daily_rollups") == budget
