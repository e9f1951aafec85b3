"""The outbox relay against real Postgres and the real Redis Streams transport."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events.outbox import emit
from packfinderz.events.registry import TOPICS, LicenseStatusChanged, MediaDeleted
from packfinderz.events.relay import Relay, backoff_seconds
from packfinderz.kit.db import Database
from packfinderz.kit.transport import Transport, create_transport
from packfinderz.kit.transport.redis_streams import stream_key
from tests.fixtures.events import emit_committed, eventually, stream_entries, worker_env
from tests.fixtures.processes import run


@pytest.fixture
async def redis_transport(fast_settings: Settings) -> AsyncIterator[Transport]:
    opened = create_transport(fast_settings, topics=TOPICS)
    yield opened
    await opened.close()


def media_event() -> MediaDeleted:
    store = uuid.uuid4()
    return MediaDeleted(media_id=uuid.uuid4(), store_id=store, storage_key=f"{store}/product/x.png")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def outbox_row(db: Database, event_id: uuid.UUID) -> dict[str, object]:
    async with db.transaction() as session:
        row = (
            await session.execute(text("SELECT * FROM outbox_events WHERE id = :id"), {"id": event_id})
        ).one()
    return dict(row._mapping)


async def test_committed_events_are_published_with_attributes_and_the_envelope(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    license_event = LicenseStatusChanged(license_id=uuid.uuid4(), store_id=uuid.uuid4(), status="pending")
    ids = await emit_committed(db, license_event, media_event())
    before = metric("packfinderz_outbox_published_total", event_type="media_deleted")

    result = await Relay(fast_settings, db, redis_transport).publish_batch()

    assert (result.claimed, result.published, result.retried, result.dead_lettered) == (2, 2, 0, 0)
    for event_id in ids:
        row = await outbox_row(db, event_id)
        assert row["published_at"] is not None
        assert row["last_error"] is None
        assert row["attempt_count"] == 0
    [fields] = await stream_entries(redis, stream_key("notifications"))
    assert fields["event_type"] == "license_status_changed"
    assert fields["aggregate_type"] == "license"
    assert fields["aggregate_id"] == str(license_event.license_id)
    assert fields["version"] == "1"
    assert fields["created_at"].endswith("Z")
    envelope = json.loads(fields["body"])
    assert envelope == (await outbox_row(db, uuid.UUID(fields["event_id"])))["payload"]
    assert envelope["data"]["status"] == "pending"
    assert len(await stream_entries(redis, stream_key("media"))) == 1
    assert metric("packfinderz_outbox_published_total", event_type="media_deleted") == before + 1


async def test_events_of_a_rolled_back_transaction_are_never_published(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    async def failing_change() -> None:
        async with db.transaction() as session:
            await emit(session, media_event())
            raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    relay = Relay(fast_settings, db, redis_transport)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    # a committed event afterwards proves the relay was running and polling
    [kept] = await emit_committed(db, media_event())

    async def published() -> bool:
        return (await outbox_row(db, kept))["published_at"] is not None

    await eventually(published, what="the committed event")
    stop.set()
    await task
    async with db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one() == 1
    entries = await stream_entries(redis, stream_key("media"))
    assert [f["event_id"] for f in entries] == [str(kept)]


async def test_unpublishable_rows_are_dead_lettered_as_non_retryable(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    good = media_event().model_dump(mode="json")
    cases = {
        "unregistered": ("no_such_event", "media", good),
        "aggregate": ("media_deleted", "license", good),
        "schema": ("media_deleted", "media", {"media_id": "not-a-uuid"}),
        "empty": ("media_deleted", "media", {}),
    }
    ids: dict[str, uuid.UUID] = {}
    async with db.transaction() as session:
        for name, (event_type, aggregate_type, data) in cases.items():
            event_id = uuid.uuid4()
            ids[name] = event_id
            envelope = {"version": 1, "event_id": str(event_id), "event_type": event_type, "data": data}
            await session.execute(
                text(
                    "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, payload) "
                    "VALUES (:id, :type, :agg, :agg_id, CAST(:payload AS jsonb))"
                ),
                {
                    "id": event_id,
                    "type": event_type,
                    "agg": aggregate_type,
                    "agg_id": uuid.uuid4(),
                    "payload": json.dumps(envelope),
                },
            )
    before = metric("packfinderz_outbox_dead_lettered_total", reason="non_retryable")

    result = await Relay(fast_settings, db, redis_transport).publish_batch()

    assert (result.published, result.dead_lettered) == (0, 4)
    async with db.transaction() as session:
        dlq = {
            r.event_id: r
            for r in await session.execute(
                text("SELECT event_id, error_reason, error_message, attempt_count, payload FROM outbox_dlq")
            )
        }
    assert set(dlq) == set(ids.values())
    assert all(r.error_reason == "non_retryable" and r.attempt_count == 0 for r in dlq.values())
    assert "unregistered event type" in dlq[ids["unregistered"]].error_message
    assert "aggregate_type" in dlq[ids["aggregate"]].error_message
    assert "schema" in dlq[ids["schema"]].error_message
    assert "empty" in dlq[ids["empty"]].error_message
    for event_id in ids.values():
        row = await outbox_row(db, event_id)
        assert row["failed_at"] is not None
        assert row["published_at"] is None
        assert dlq[event_id].payload == row["payload"]
    assert await redis.exists(stream_key("media")) == 0
    assert metric("packfinderz_outbox_dead_lettered_total", reason="non_retryable") == before + 4


async def test_failing_publishes_back_off_then_reach_the_dlq_and_replay_publishes_them(
    fast_settings: Settings, db: Database, redis: Redis, redis_transport: Transport
) -> None:
    # A plain string where the stream should be: every XADD fails (WRONGTYPE) until it is removed.
    await redis.set(stream_key("media"), "not a stream")
    [event_id] = await emit_committed(db, media_event())
    relay = Relay(fast_settings, db, redis_transport)
    errors_before = metric("packfinderz_outbox_publish_errors_total", event_type="media_deleted")

    first = await relay.publish_batch()
    assert (first.claimed, first.retried) == (1, 1)
    row = await outbox_row(db, event_id)
    assert row["attempt_count"] == 1
    assert "WRONGTYPE" in str(row["last_error"])
    assert row["published_at"] is None
    assert row["failed_at"] is None

    async def dead() -> bool:
        await relay.publish_batch()
        return (await outbox_row(db, event_id))["failed_at"] is not None

    await eventually(dead, what="the third failed attempt")
    row = await outbox_row(db, event_id)
    assert row["attempt_count"] == fast_settings.outbox_max_attempts == 3
    assert metric("packfinderz_outbox_publish_errors_total", event_type="media_deleted") == errors_before + 3
    async with db.transaction() as session:
        [dlq] = list(
            await session.execute(text("SELECT * FROM outbox_dlq WHERE event_id = :id"), {"id": event_id})
        )
    assert (dlq.error_reason, dlq.attempt_count, dlq.replay_count) == ("max_attempts", 3, 0)
    assert "WRONGTYPE" in dlq.error_message

    status = run(["outbox", "status", "--json"], worker_env(fast_settings))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout.strip().splitlines()[-1])["dead_lettered"] == 1

    await redis.delete(stream_key("media"))  # the operator fixed the cause
    replayed = run(["outbox", "replay", "--event-id", str(event_id)], worker_env(fast_settings))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"{event_id}  media_deleted  dlq  replayed: reset" in replayed.stdout
    row = await outbox_row(db, event_id)
    assert (row["failed_at"], row["attempt_count"], row["last_error"]) == (None, 0, None)

    assert (await relay.publish_batch()).published == 1
    [fields] = await stream_entries(redis, stream_key("media"))
    assert fields["event_id"] == str(event_id)
    async with db.transaction() as session:
        counts = (
            await session.execute(
                text("SELECT replay_count, last_replayed_at FROM outbox_dlq WHERE event_id = :id"),
                {"id": event_id},
            )
        ).one()
    assert counts.replay_count == 1
    assert counts.last_replayed_at is not None


async def test_relays_running_together_publish_each_row_once(
    fast_settings: Settings, db: Database, redis: Redis
) -> None:
    count = 300
    async with db.transaction() as session:
        for _ in range(count):
            await emit(session, media_event())
    transports = [create_transport(fast_settings, topics=TOPICS) for _ in range(3)]
    relays = [
        Relay(fast_settings.model_copy(update={"outbox_publish_batch_size": 20}), db, t) for t in transports
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]

    async def all_published() -> bool:
        async with db.transaction() as session:
            left = (
                await session.execute(text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL"))
            ).scalar_one()
        return bool(left == 0)

    await eventually(all_published, what="every row published")
    stop.set()
    await asyncio.gather(*tasks)
    for t in transports:
        await t.close()
    entries = await stream_entries(redis, stream_key("media"))
    published_ids = [fields["event_id"] for fields in entries]
    assert len(published_ids) == len(set(published_ids)) == count
    assert all(r.published_since_beat > 0 for r in relays), "every relay took a share"


async def test_a_notify_wakes_an_idle_relay(
    fast_settings: Settings, db: Database, redis_transport: Transport
) -> None:
    slow_poll = fast_settings.model_copy(update={"outbox_publish_poll_ms": 60_000})
    relay = Relay(slow_poll, db, redis_transport)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.3)  # the relay found nothing and now waits for NOTIFY (the poll is a minute)
    [event_id] = await emit_committed(db, media_event())

    async def published() -> bool:
        return (await outbox_row(db, event_id))["published_at"] is not None

    await eventually(published, timeout=10, what="the NOTIFY to wake the relay")
    stop.set()
    await task


async def test_heartbeat_fields_report_published_pending_and_lag(
    fast_settings: Settings, db: Database, redis_transport: Transport
) -> None:
    relay = Relay(fast_settings, db, redis_transport)
    await emit_committed(db, media_event(), media_event())
    await relay.publish_batch()
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await eventually(_has_stats(relay), what="a stats sample")
    stop.set()
    await task
    fields = relay.heartbeat_fields()
    assert fields == {"relay_published": 2, "relay_pending": 0, "relay_lag_seconds": 0.0}
    assert relay.heartbeat_fields()["relay_published"] == 0  # counted since the last beat


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    for attempt, full in ((1, 2.0), (2, 4.0), (3, 8.0), (9, 300.0), (20, 300.0)):
        delays = [backoff_seconds(attempt, 2.0, 300.0) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert max(delays) - min(delays) > 0


def _has_stats(relay: Relay) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return relay.stats is not None

    return check
