"""The consumer framework and the notifications consumer, over real Redis Streams and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.config import Settings
from packfinderz.events.consumer import (
    Consumer,
    ConsumerRunner,
    Event,
    HandlerDeps,
    PermanentError,
    guard_key,
    load_consumers,
)
from packfinderz.events.registry import TOPICS, CheckoutConverted, LicenseStatusChanged, PaymentFailed
from packfinderz.events.relay import Relay
from packfinderz.kit.db import Database
from packfinderz.kit.transport import Transport, create_transport
from packfinderz.kit.transport.redis_streams import dead_stream_key, stream_key
from packfinderz.notifications.rules import notice_id
from tests.fixtures.db import rows
from tests.fixtures.events import emit_committed, eventually, insert_license, insert_store, stream_entries


@pytest.fixture
async def redis_transport(fast_settings: Settings) -> AsyncIterator[Transport]:
    opened = create_transport(fast_settings, topics=TOPICS)
    yield opened
    await opened.close()


@contextlib.asynccontextmanager
async def running(
    settings: Settings, db: Database, redis: Redis, transport: Transport, *consumers: Consumer
) -> AsyncIterator[ConsumerRunner]:
    """A ConsumerRunner in the background; stopped (in-flight work finished) on exit."""
    chosen = consumers or (load_consumers()["notifications"],)
    runner = ConsumerRunner(settings, db, redis, transport, chosen)
    await runner.setup()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await task


def outcomes(consumer: str) -> dict[str, float]:
    names = ("ok", "duplicate", "ignored", "retry", "dropped", "dead_lettered")
    return {
        o: REGISTRY.get_sample_value(
            "packfinderz_consumer_messages_total", {"consumer": consumer, "outcome": o}
        )
        or 0.0
        for o in names
    }


def grew(before: dict[str, float], consumer: str) -> dict[str, float]:
    after = outcomes(consumer)
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


async def pending(redis: Redis, topic: str, group: str) -> int:
    info = await redis.xpending(stream_key(topic), group)
    return int(info["pending"])


async def test_a_license_submission_reaches_the_store_and_the_admin_inbox(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    store_id = await insert_store(db, "Green Leaf LLC", dba="Green Leaf")
    license_id = await insert_license(db, store_id, "OK-AAA-123")
    [event_id] = await emit_committed(
        db, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="pending")
    )
    before = outcomes("notifications")
    await Relay(fast_settings, db, redis_transport).publish_batch()

    async with running(fast_settings, db, redis, redis_transport):
        await eventually(lambda: _count(db, "admin_notifications", 1), what="the admin notice")

    [store_notice] = await rows(db, "SELECT * FROM notifications")
    assert store_notice["id"] == notice_id(event_id, store_id) == uuid.uuid5(event_id, str(store_id))
    assert store_notice["store_id"] == store_id
    assert store_notice["type"] == "compliance"
    assert store_notice["title"] == "License submitted for review"
    assert store_notice["message"] == "License OK-AAA-123 was submitted and awaits review."
    assert store_notice["link"] == f"/licenses/{license_id}"
    assert store_notice["read_at"] is None
    [admin_notice] = await rows(db, "SELECT * FROM admin_notifications")
    assert admin_notice["id"] == uuid.uuid5(event_id, "admins")
    assert admin_notice["title"] == "License awaiting review"
    assert admin_notice["message"] == "Green Leaf submitted license OK-AAA-123 for review."
    assert admin_notice["link"] == f"/admin/licenses/{license_id}"
    key = guard_key("notifications", event_id)
    assert key == f"pf:evt:processed:notifications:{event_id}"
    assert await redis.get(key) == "done"
    assert 0 < await redis.ttl(key) <= fast_settings.eventing_idempotency_ttl
    assert await pending(redis, "notifications", "notifications") == 0
    assert grew(before, "notifications") == {"ok": 1}


async def test_a_redelivered_event_is_a_duplicate_and_writes_nothing_more(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    store_id = await insert_store(db, "Twice Co")
    license_id = await insert_license(db, store_id)
    await emit_committed(
        db, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="verified")
    )
    await Relay(fast_settings, db, redis_transport).publish_batch()
    [fields] = await stream_entries(redis, stream_key("notifications"))
    copy: dict[Any, Any] = dict(fields)
    await redis.xadd(stream_key("notifications"), copy)  # the broker delivers it a second time
    before = outcomes("notifications")

    async def handled_then_duplicate() -> bool:
        # both copies may arrive together: the second is nacked while the first runs, then redelivered
        seen = grew(before, "notifications")
        return (
            seen.get("ok") == 1 and seen.get("duplicate") == 1 and set(seen) <= {"ok", "duplicate", "retry"}
        )

    async with running(fast_settings, db, redis, redis_transport):
        await eventually(handled_then_duplicate, what="ok then duplicate")

    [notice] = await rows(db, "SELECT title, message FROM notifications")
    assert notice == {"title": "License approved", "message": "License OK-LIC-0001 was approved."}
    assert await pending(redis, "notifications", "notifications") == 0


async def test_an_event_in_flight_elsewhere_is_retried_later(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    store_id = await insert_store(db, "Busy Co")
    license_id = await insert_license(db, store_id)
    [event_id] = await emit_committed(
        db, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="verified")
    )
    await redis.set(guard_key("notifications", event_id), "processing", ex=300)
    await Relay(fast_settings, db, redis_transport).publish_batch()
    before = outcomes("notifications")

    async with running(fast_settings, db, redis, redis_transport):
        await eventually(lambda: _grown(before, {"retry": 1}), what="a nack while another worker holds it")
        assert await _count(db, "notifications", 0)
        await redis.delete(guard_key("notifications", event_id))  # the other worker gave up
        await eventually(lambda: _count(db, "notifications", 1), what="the redelivery to be handled")
    assert grew(before, "notifications")["ok"] == 1


async def test_unhandled_types_are_ignored_and_bad_envelopes_dropped(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    await emit_committed(
        db,
        CheckoutConverted(
            checkout_group_id=uuid.uuid4(),
            buyer_store_id=uuid.uuid4(),
            vendor_order_ids=[],
            vendor_store_ids=[],
            converted_at=datetime(2026, 11, 25, tzinfo=UTC),
            analytics={},
        ),
    )
    await Relay(fast_settings, db, redis_transport).publish_batch()
    await redis_transport.publish("notifications", {"event_type": "license_status_changed"}, b"not json")
    wrong = {"version": 1, "event_id": "nope", "event_type": "license_status_changed", "data": {}}
    await redis_transport.publish("notifications", {}, json.dumps(wrong).encode())
    before = outcomes("notifications")

    async with running(fast_settings, db, redis, redis_transport):
        await eventually(lambda: _grown(before, {"ignored": 1, "dropped": 2}), what="1 ignored, 2 dropped")
    assert await pending(redis, "notifications", "notifications") == 0
    assert await _count(db, "notifications", 0)


async def test_a_handler_that_always_fails_is_retried_then_dead_lettered(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    attempts: list[int] = []

    async def explode(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
        # the write is rolled back with the failed attempt
        await session.execute(
            text("INSERT INTO admin_notifications (type, title, message) VALUES ('order_alert', 'x', 'y')")
        )
        attempts.append(1)
        raise RuntimeError("warehouse unavailable")

    consumer = Consumer("exploding", ("orders",), frozenset({"payment_failed"}), explode)
    [event_id] = await emit_committed(
        db, PaymentFailed(order_id=uuid.uuid4(), payment_intent_id=uuid.uuid4())
    )
    await Relay(fast_settings, db, redis_transport).publish_batch()
    before = outcomes("exploding")

    async with running(fast_settings, db, redis, redis_transport, consumer) as runner:
        await eventually(
            lambda: _grown_for("exploding", before, {"retry": 2, "dead_lettered": 1}), what="DLQ"
        )
    assert len(attempts) == fast_settings.events_max_deliveries == 3
    [letter] = await stream_entries(redis, dead_stream_key("orders"))
    assert letter["event_id"] == str(event_id)
    assert letter["consumer"] == "exploding"
    assert "RuntimeError: warehouse unavailable" in letter["error"]
    assert await redis.exists(guard_key("exploding", event_id)) == 0
    assert await pending(redis, "orders", "exploding") == 0
    assert await _count(db, "admin_notifications", 0)
    assert runner.heartbeat_fields() == {"events_handled": {"exploding": 0}, "dead_lettered": 1}


async def test_handlers_get_the_runners_clients(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    """A handler's deps are the runner's own settings, Redis client and storage adapter."""
    seen: list[HandlerDeps] = []

    async def record(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
        seen.append(deps)

    consumer = Consumer("recording", ("orders",), frozenset({"payment_failed"}), record)
    await emit_committed(db, PaymentFailed(order_id=uuid.uuid4(), payment_intent_id=uuid.uuid4()))
    await Relay(fast_settings, db, redis_transport).publish_batch()
    async with running(fast_settings, db, redis, redis_transport, consumer) as runner:

        async def handled() -> bool:
            return bool(seen)

        await eventually(handled, what="handled")
    [deps] = seen
    assert deps is runner.deps
    assert (deps.settings, deps.redis) == (fast_settings, redis)
    assert type(deps.storage).__name__ == "LocalStorage"  # built from the runner's settings


async def test_a_permanent_failure_is_dropped_and_never_retried(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    calls: list[int] = []

    async def refuse(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
        calls.append(1)
        raise PermanentError("payload can never be handled")

    consumer = Consumer("refusing", ("orders",), frozenset({"payment_failed"}), refuse)
    [event_id] = await emit_committed(
        db, PaymentFailed(order_id=uuid.uuid4(), payment_intent_id=uuid.uuid4())
    )
    await Relay(fast_settings, db, redis_transport).publish_batch()
    before = outcomes("refusing")

    async with running(fast_settings, db, redis, redis_transport, consumer):
        await eventually(lambda: _grown_for("refusing", before, {"dropped": 1}), what="drop")
        await asyncio.sleep(1.0)
    assert calls == [1]
    assert await redis.get(guard_key("refusing", event_id)) == "done"
    assert await pending(redis, "orders", "refusing") == 0


async def test_a_missing_source_row_acks_without_a_notice(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    store_id = await insert_store(db, "Ghost License Co")
    await emit_committed(
        db, LicenseStatusChanged(license_id=uuid.uuid4(), store_id=store_id, status="pending")
    )
    await Relay(fast_settings, db, redis_transport).publish_batch()
    before = outcomes("notifications")

    async with running(fast_settings, db, redis, redis_transport):
        await eventually(lambda: _grown(before, {"ok": 1}), what="the event to be handled")
    assert await _count(db, "notifications", 0)
    assert await _count(db, "admin_notifications", 0)
    assert await pending(redis, "notifications", "notifications") == 0


async def _count(db: Database, table: str, expected: int) -> bool:
    found = await rows(db, f"SELECT count(*) AS n FROM {table}")
    return bool(found[0]["n"] == expected)


async def _grown(before: dict[str, float], expected: dict[str, int]) -> bool:
    return await _grown_for("notifications", before, expected)


async def _grown_for(consumer: str, before: dict[str, float], expected: dict[str, int]) -> bool:
    return grew(before, consumer) == expected
