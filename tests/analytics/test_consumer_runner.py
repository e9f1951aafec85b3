"""The `analytics` consumer registered and running in the worker's runner: checkout through the API,
the relay publishes to Redis Streams, the consumer writes the warehouse; a replayed stream changes
nothing."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.events.consumer import load_consumers
from packfinderz.kit.db import Database
from tests.analytics.conftest import warehouse_rows
from tests.fixtures.events import FAST_EVENTS, eventually
from tests.fixtures.orders import place, worker


def test_the_consumer_is_registered_for_its_events() -> None:
    consumer = load_consumers()["analytics"]
    assert set(consumer.topics) == {"orders", "notifications", "billing", "analytics"}
    assert consumer.event_types == {
        "checkout_converted",
        "order_retried",
        "cash_collected",
        "order_paid",
        "order_canceled",
        "order_expired",
        "ad_daily_rollup_ready",
    }


async def test_checkout_reaches_the_warehouse_through_the_worker(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    fast = settings.model_copy(update={"events_transport": "redis", **FAST_EVENTS})
    placed = await place(client, db, ((2,), (1,)))
    async with worker(fast, db, redis, "analytics") as relay:
        await relay.publish_batch()

        async def written() -> bool:
            return len(await warehouse_rows(db)) == 2

        await eventually(written, what="the analytics consumer's rows")
    found = await warehouse_rows(db)
    assert {str(r["order_id"]) for r in found} == {o["order_id"] for o in placed.orders}
    assert {r["event_type"] for r in found} == {"order_created"}
    assert sorted(r["gross_revenue_cents"] for r in found) == sorted(o["total_cents"] for o in placed.orders)
