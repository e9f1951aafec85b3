"""Reliability of the event pipeline with real processes killed at the worst moments (issue #4).

- A relay killed with SIGKILL in the middle of a batch loses no event, and consumers apply each once.
- A consumer that crashes before ack gets the message again, and its guard prevents a second effect.
(The DLQ + replay and rolled-back transaction cases are in test_relay.py; two schedulers in
tests/cron/test_scheduler.py.)
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events.consumer import ConsumerRunner, guard_key, load_consumers
from packfinderz.events.outbox import emit
from packfinderz.events.registry import TOPICS, LicenseStatusChanged
from packfinderz.events.relay import Relay
from packfinderz.kit.db import Database
from packfinderz.kit.transport import Subscription, Transport, create_transport
from packfinderz.kit.transport.redis_streams import stream_key
from tests.fixtures.db import scalar
from tests.fixtures.events import eventually, insert_license, insert_store, stream_entries, worker_env
from tests.fixtures.processes import ROOT, Process

EVENTS = 400


@pytest.fixture
async def redis_transport(fast_settings: Settings) -> AsyncIterator[Transport]:
    opened = create_transport(fast_settings, topics=TOPICS)
    yield opened
    await opened.close()


def relay_env(settings: Settings) -> dict[str, str]:
    return worker_env(
        settings,
        PACKFINDERZ_OUTBOX_PUBLISH_BATCH_SIZE="25",
        PACKFINDERZ_OUTBOX_CLAIM_LEASE="1",
        PACKFINDERZ_OUTBOX_PUBLISH_POLL_MS="50",
        PACKFINDERZ_LOG_LEVEL="warning",
        PACKFINDERZ_WORKER_HEARTBEAT_SECONDS="1",
    )


async def consume_everything(settings: Settings, db: Database, redis: Redis, transport: Transport) -> None:
    """Run the notifications consumer until its group has read and acked the whole stream."""
    runner = ConsumerRunner(settings, db, redis, transport, [load_consumers()["notifications"]])
    await runner.setup()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def drained() -> bool:
        groups = await redis.xinfo_groups(stream_key("notifications"))
        group = next(g for g in groups if g["name"] == "notifications")
        newest: Any = await redis.xrevrange(stream_key("notifications"), count=1)
        last = newest[0][0]
        return bool(group["pending"] == 0 and group["last-delivered-id"] == last)

    try:
        await eventually(drained, timeout=120, what="the consumer to drain the stream")
    finally:
        stop.set()
        await task


async def test_a_relay_killed_mid_batch_loses_no_event_and_consumers_apply_each_once(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    store_id = await insert_store(db, "Kill Nine LLC")
    license_id = await insert_license(db, store_id)
    async with db.transaction() as session:
        for _ in range(EVENTS):
            await emit(
                session, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="verified")
            )
    stream = stream_key("notifications")
    relay = Process(["worker", "--roles", "relay"], relay_env(fast_settings))
    try:
        await eventually(_stream_has_entries(redis, stream), what="the relay to start publishing")
        # Hold a SHARE lock on the outbox: the relay blocks at its next UPDATE. When the stream holds
        # more entries than rows marked published, it is blocked recording a batch the broker already
        # acknowledged: that is the moment to kill it.
        killed_mid_batch = False
        async with db.engine.connect() as connection:
            for _ in range(200):
                transaction = await connection.begin()
                await connection.execute(text("LOCK TABLE outbox_events IN SHARE MODE"))
                await asyncio.sleep(0.15)
                published = (
                    await connection.execute(
                        text("SELECT count(*) FROM outbox_events WHERE published_at IS NOT NULL")
                    )
                ).scalar_one()
                if await redis.xlen(stream) > published:
                    relay.signal(signal.SIGKILL)
                    assert await relay.wait_exit(10) == -signal.SIGKILL
                    killed_mid_batch = True
                await transaction.rollback()
                if killed_mid_batch or relay.popen.poll() is not None:
                    break
                await asyncio.sleep(random.uniform(0, 0.02))
        assert killed_mid_batch, "could not catch the relay between publish and record"
    finally:
        relay.kill()
    in_flight = await redis.xlen(stream) - await scalar(
        db, "SELECT count(*) FROM outbox_events WHERE published_at IS NOT NULL"
    )
    assert in_flight > 0

    restarted = Process(["worker", "--roles", "relay"], relay_env(fast_settings))
    try:
        await eventually(_all_published(db), timeout=60, what="the restarted relay to publish everything")
        restarted.signal(signal.SIGTERM)
        assert await restarted.wait_exit(20) == 0
    finally:
        restarted.kill()

    entries = await stream_entries(redis, stream)
    ids = [entry["event_id"] for entry in entries]
    async with db.transaction() as session:
        outbox_ids = {str(r.id) for r in await session.execute(text("SELECT id FROM outbox_events"))}
    assert set(ids) == outbox_ids, "every row was published at least once"
    assert len(ids) > len(outbox_ids), "the batch in flight at the kill was published again"

    await consume_everything(fast_settings, db, redis, redis_transport)
    assert await scalar(db, "SELECT count(*) FROM notifications") == EVENTS
    assert await scalar(db, "SELECT count(DISTINCT id) FROM notifications") == EVENTS


@pytest.mark.parametrize(
    "case",
    [("before-ack", "done", "duplicate"), ("before-guard", None, "ok")],
    ids=["crash-before-ack", "crash-before-guard"],
)
async def test_a_consumer_crashing_before_ack_gets_the_message_again_without_a_second_effect(
    fast_settings: Settings,
    db: Database,
    redis: Redis,
    redis_transport: Transport,
    case: tuple[str, str | None, str],
) -> None:
    crash_point, guard_after_crash, outcome_after_restart = case
    store_id = await insert_store(db, "Crashy Co")
    license_id = await insert_license(db, store_id)
    async with db.transaction() as session:
        await emit(session, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="pending"))
    await Relay(fast_settings, db, redis_transport).publish_batch()
    event_id = uuid.UUID((await stream_entries(redis, stream_key("notifications")))[0]["event_id"])

    env = worker_env(
        fast_settings,
        PACKFINDERZ_EVENTS_REDELIVERY_IDLE="0.3",
        PACKFINDERZ_EVENTS_MAX_DELIVERIES="5",
        PACKFINDERZ_LOG_LEVEL="warning",
    )
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.events.crashing_consumer", crash_point],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    # the side effect committed before the crash; the message was never acked
    assert await scalar(db, "SELECT count(*) FROM notifications") == 1
    assert await scalar(db, "SELECT count(*) FROM admin_notifications") == 1
    assert (await redis.xpending(stream_key("notifications"), "notifications"))["pending"] == 1
    if guard_after_crash is None:
        await eventually(
            _guard_gone(redis, guard_key("notifications", event_id)), what="the stale claim to expire"
        )
    else:
        assert await redis.get(guard_key("notifications", event_id)) == guard_after_crash

    runner = ConsumerRunner(fast_settings, db, redis, redis_transport, [load_consumers()["notifications"]])
    outcomes: list[str] = []
    subscription = Subscription("notifications", "notifications")

    async def redeliver() -> None:
        async for message in redis_transport.subscribe(subscription, asyncio.Event()):
            outcomes.append(await runner.process(load_consumers()["notifications"], message))
            return

    await asyncio.wait_for(redeliver(), 30)
    assert outcomes == [outcome_after_restart]
    assert (await redis.xpending(stream_key("notifications"), "notifications"))["pending"] == 0
    assert await redis.get(guard_key("notifications", event_id)) == "done"
    assert await scalar(db, "SELECT count(*) FROM notifications") == 1
    assert await scalar(db, "SELECT count(*) FROM admin_notifications") == 1


def _stream_has_entries(redis: Redis, stream: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await redis.xlen(stream))

    return check


def _all_published(db: Database) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await scalar(db, "SELECT count(*) FROM outbox_events WHERE published_at IS NULL") == 0)

    return check


def _guard_gone(redis: Redis, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await redis.exists(key)

    return check


async def test_a_consumer_killed_mid_message_is_handled_on_the_next_redelivery_not_dead_lettered(
    fast_settings: Settings, db: Database, redis: Redis
) -> None:
    """Issue #20: the `processing` guard of a killed consumer is a lease that runs out before the
    transport redelivers, so the redelivery is handled (it used to be held for 300 s and nacked until
    its deliveries ran out, then dead-lettered)."""
    settings = fast_settings.model_copy(update={"events_redelivery_idle": 3.0, "events_max_deliveries": 2})
    transport = create_transport(settings, topics=TOPICS)
    try:
        store_id = await insert_store(db, "Killed Co")
        license_id = await insert_license(db, store_id)
        async with db.transaction() as session:
            await emit(
                session, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="pending")
            )
        await Relay(settings, db, transport).publish_batch()
        event_id = uuid.UUID((await stream_entries(redis, stream_key("notifications")))[0]["event_id"])

        env = worker_env(
            settings,
            PACKFINDERZ_EVENTS_REDELIVERY_IDLE="3",
            PACKFINDERZ_EVENTS_MAX_DELIVERIES="2",
            PACKFINDERZ_LOG_LEVEL="warning",
        )
        crashed = subprocess.run(
            [sys.executable, "-m", "tests.events.crashing_consumer", "mid-handler"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
        # killed inside the handler: nothing committed, the message pending, the claim its own
        assert await scalar(db, "SELECT count(*) FROM notifications") == 0
        assert (await redis.xpending(stream_key("notifications"), "notifications"))["pending"] == 1
        claim = await redis.get(guard_key("notifications", event_id))
        assert claim is None or str(claim).startswith("processing:")

        consumer = load_consumers()["notifications"]
        runner = ConsumerRunner(settings, db, redis, transport, [consumer])
        outcomes: list[str] = []

        async def redeliver() -> None:
            stop = asyncio.Event()
            async for message in transport.subscribe(Subscription("notifications", "notifications"), stop):
                outcomes.append(await runner.process(consumer, message))
                stop.set()
                return

        await asyncio.wait_for(redeliver(), 30)
        # the very next delivery (the second and last one allowed) is handled, not nacked
        assert outcomes == ["ok"]
        assert await redis.get(guard_key("notifications", event_id)) == "done"
        assert await redis.xlen("pf:events:dead:notifications") == 0
        assert (await redis.xpending(stream_key("notifications"), "notifications"))["pending"] == 0
        assert await scalar(db, "SELECT count(*) FROM notifications") == 1
    finally:
        await transport.close()


async def test_a_live_claim_is_renewed_while_its_handler_runs(
    fast_settings: Settings, db: Database, redis: Redis
) -> None:
    """A handler slower than the lease keeps its claim: another delivery meanwhile is nacked, not run."""
    # 10 deliveries: the handling deadline (3 s x 9 / 2) is longer than the test's slow handler
    settings = fast_settings.model_copy(update={"events_redelivery_idle": 3.0, "events_max_deliveries": 10})
    release = asyncio.Event()
    started = asyncio.Event()
    consumer = load_consumers()["notifications"]

    async def slow(session: Any, event: Any, deps: Any) -> None:
        started.set()
        await asyncio.wait_for(release.wait(), 30)
        await consumer.handler(session, event, deps)

    import dataclasses

    slow_consumer = dataclasses.replace(consumer, handler=slow)
    transport = create_transport(settings, topics=TOPICS)
    try:
        store_id = await insert_store(db, "Slow Co")
        license_id = await insert_license(db, store_id)
        async with db.transaction() as session:
            await emit(
                session, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="pending")
            )
        await Relay(settings, db, transport).publish_batch()
        [entry] = await stream_entries(redis, stream_key("notifications"))
        event_id = entry["event_id"]
        runner = ConsumerRunner(settings, db, redis, transport, [slow_consumer])
        await runner.setup()
        messages: list[Any] = []

        async def take(count: int) -> None:
            stop = asyncio.Event()
            async for message in transport.subscribe(Subscription("notifications", "notifications"), stop):
                messages.append(message)
                if len(messages) >= count:
                    stop.set()
                    return

        await asyncio.wait_for(take(1), 30)
        first = asyncio.create_task(runner.process(slow_consumer, messages[0]))
        await asyncio.wait_for(started.wait(), 30)
        # three lease lengths later the claim still belongs to the running delivery
        for _ in range(3):
            await asyncio.sleep(settings.events_redelivery_idle / 2)
            claim = await redis.get(guard_key("notifications", event_id))
            assert claim is not None
            assert str(claim).startswith("processing:")
        second = await runner.process(slow_consumer, messages[0])  # the broker hands it out again
        assert second == "retry"
        release.set()
        assert await asyncio.wait_for(first, 30) == "ok"
        assert await redis.get(guard_key("notifications", event_id)) == "done"
        assert await scalar(db, "SELECT count(*) FROM notifications") == 1
    finally:
        await transport.close()
