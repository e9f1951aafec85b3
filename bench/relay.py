"""Outbox relay benchmark: throughput (events/s) and commit-to-consume latency (p50, p99) per transport.

Runs stand-alone (`.venv/bin/python bench/relay.py`): it starts an embedded Postgres and Redis (the
test servers, namespace `bench`) and, when installed, the Pub/Sub emulator; the relay runs as a real
`packfinderz worker --roles relay` process, as in production.

- throughput: BENCH_RELAY_EVENTS (20 000) events are committed first, then one relay publishes them;
  events/s = events / (last published_at - first published_at).
- latency: BENCH_RELAY_RATE (500) events/s are emitted, one per committed transaction, for
  BENCH_RELAY_SECONDS (10); a consumer records when each arrives; latency = arrival - commit.
Prints one JSON line per transport. Any event lost or duplicated (throughput: the Redis stream must hold
each event once; latency: the consumer must see each event once) is reported under `failures` and makes
the run exit 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PACKFINDERZ_TEST_NAMESPACE", "bench")

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench._common import percentile, report
from packfinderz.config import Settings
from packfinderz.events.consumer import Consumer, ConsumerRunner, Event, HandlerDeps
from packfinderz.events.outbox import emit
from packfinderz.events.registry import TOPICS, MediaDeleted
from packfinderz.kit.db import Database, create_database
from packfinderz.kit.logging import configure_logging
from packfinderz.kit.redis import create_redis
from packfinderz.kit.transport import create_transport
from packfinderz.kit.transport.redis_streams import stream_key
from tests.fixtures.processes import Process, child_env
from tests.fixtures.pubsub import EmulatorUnavailable, PubSubEmulator, start_emulator
from tests.fixtures.servers import TEST_DATA, TestServers, start_servers

EVENTS = int(os.environ.get("BENCH_RELAY_EVENTS", "20000"))
RATE = int(os.environ.get("BENCH_RELAY_RATE", "500"))
SECONDS = float(os.environ.get("BENCH_RELAY_SECONDS", "10"))
EMITTERS = 8
PRELOAD_BATCH = 500


def settings_for(servers: TestServers, transport: str, emulator: PubSubEmulator | None) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "db_dsn": servers.db_url,
        "redis_url": servers.redis_url,
        "log_level": "warning",
        "events_transport": transport,
        "db_pool_size": 10,
        "db_max_overflow": 10,
        "dyno": "bench",
    }
    if transport == "pubsub":
        assert emulator is not None
        values.update(
            gcp_project_id=f"pf-bench-{uuid.uuid4().hex[:8]}",
            pubsub_emulator_host=emulator.host,
            pubsub_auto_create=True,
        )
    return Settings(**values)


def relay_env(settings: Settings) -> dict[str, str]:
    assert settings.db_dsn is not None
    assert settings.redis_url is not None
    env = {
        "PACKFINDERZ_APP_ENV": "test",
        "PACKFINDERZ_DB_DSN": settings.db_dsn.get_secret_value(),
        "PACKFINDERZ_REDIS_URL": settings.redis_url.get_secret_value(),
        "PACKFINDERZ_LOG_LEVEL": "warning",
        "PACKFINDERZ_EVENTS_TRANSPORT": settings.events_transport,
        "DYNO": "bench-relay",
    }
    if settings.events_transport == "pubsub":
        assert settings.gcp_project_id is not None
        assert settings.pubsub_emulator_host is not None
        env.update(
            PACKFINDERZ_GCP_PROJECT_ID=settings.gcp_project_id,
            PUBSUB_EMULATOR_HOST=settings.pubsub_emulator_host,
        )
    return child_env(**env)


async def reset(db: Database, redis: Redis) -> None:
    async with db.transaction() as session:
        await session.execute(text("TRUNCATE outbox_events, outbox_dlq"))
    await redis.flushdb()


async def scalar(db: Database, sql: str) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql))).scalar_one()


def media_event() -> MediaDeleted:
    store = uuid.uuid4()
    return MediaDeleted(media_id=uuid.uuid4(), store_id=store, storage_key=f"{store}/product/bench.png")


async def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def stop_relay(relay: Process) -> None:
    relay.signal(signal.SIGTERM)
    try:
        await relay.wait_exit(30)
    finally:
        relay.kill()


async def throughput(settings: Settings, db: Database, redis: Redis) -> dict[str, Any]:
    """Commit EVENTS events, then let one relay publish them all (on redis: each exactly once)."""
    for start in range(0, EVENTS, PRELOAD_BATCH):
        async with db.transaction() as session:
            for _ in range(min(PRELOAD_BATCH, EVENTS - start)):
                await emit(session, media_event())
    relay = Process(["worker", "--roles", "relay"], relay_env(settings))
    try:

        async def done() -> bool:
            return bool(await scalar(db, "SELECT count(*) = 0 FROM outbox_events WHERE published_at IS NULL"))

        await wait_until(done, 600, "the relay to publish every event")
    finally:
        await stop_relay(relay)
    span = await scalar(
        db, "SELECT extract(epoch FROM max(published_at) - min(published_at)) FROM outbox_events"
    )
    checked: dict[str, Any] = {}
    if settings.events_transport == "redis":  # the stream holds what was published: each event once
        entries = int(await redis.xlen(stream_key("media")))
        checked = {
            "throughput_lost": max(EVENTS - entries, 0),
            "throughput_duplicated": max(entries - EVENTS, 0),
        }
    return {
        **checked,
        "events": EVENTS,
        "batch_size": settings.outbox_publish_batch_size,
        "publish_seconds": round(float(span), 3),
        "events_per_second": round(EVENTS / max(float(span), 1e-6), 1),
    }


async def latency(settings: Settings, db: Database, redis: Redis) -> dict[str, Any]:
    """Emit at RATE events/s, one per committed transaction; measure commit -> consumer arrival."""
    committed: dict[uuid.UUID, float] = {}
    arrived: dict[uuid.UUID, float] = {}
    deliveries: Counter[uuid.UUID] = Counter()

    async def record(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
        assert isinstance(event.data, MediaDeleted)
        arrived.setdefault(event.data.media_id, time.time())
        deliveries[event.data.media_id] += 1

    transport = create_transport(settings, topics=TOPICS)
    runner = ConsumerRunner(
        settings, db, redis, transport, [Consumer("bench", ("media",), frozenset({"media_deleted"}), record)]
    )
    await runner.setup()
    stop = asyncio.Event()
    consuming = asyncio.create_task(runner.run(stop))
    relay = Process(["worker", "--roles", "relay"], relay_env(settings))
    try:
        warmup = media_event()
        async with db.transaction() as session:
            await emit(session, warmup)

        async def warmed() -> bool:
            return warmup.media_id in arrived

        await wait_until(warmed, 120, "the relay and consumer to start")
        total = int(RATE * SECONDS)

        async def emitter(offset: int) -> None:
            started = time.monotonic()
            for n in range(offset, total, EMITTERS):
                delay = started + n / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = media_event()
                async with db.transaction() as session:
                    await emit(session, event)
                committed[event.media_id] = time.time()

        began = time.monotonic()
        await asyncio.gather(*(emitter(i) for i in range(EMITTERS)))
        offered = total / (time.monotonic() - began)

        async def all_arrived() -> bool:
            return all(media_id in arrived for media_id in committed)

        # What never arrives is reported as lost (and fails the run), not as a crash.
        with contextlib.suppress(TimeoutError):
            await wait_until(all_arrived, 120, "every event to reach the consumer")
        await asyncio.sleep(1)  # a late duplicate would land now
    finally:
        await stop_relay(relay)
        stop.set()
        await consuming
        await transport.close()
    samples = [arrived[m] - committed[m] for m in committed if m in arrived]
    return {
        "latency_lost": sum(1 for m in committed if m not in arrived),
        "latency_duplicated": sum(n - 1 for n in deliveries.values() if n > 1),
        "latency_events": len(samples),
        "offered_rate": round(offered, 1),
        "latency_p50_ms": round(percentile(samples, 0.50) * 1000, 2),
        "latency_p99_ms": round(percentile(samples, 0.99) * 1000, 2),
        "latency_max_ms": round(max(samples, default=0.0) * 1000, 2),
    }


async def run_transport(
    servers: TestServers, transport: str, emulator: PubSubEmulator | None
) -> dict[str, Any]:
    settings = settings_for(servers, transport, emulator)
    db = create_database(settings)
    redis = create_redis(settings)
    try:
        await reset(db, redis)
        figures = await throughput(settings, db, redis)
        await reset(db, redis)
        # a fresh Pub/Sub project, so the latency consumer does not first read the throughput events
        latency_settings = settings_for(servers, transport, emulator) if transport == "pubsub" else settings
        figures.update(await latency(latency_settings, db, redis))
        return figures
    finally:
        await redis.aclose()
        await db.dispose()


def main() -> None:
    configure_logging(service="bench", env="test", instance="bench", level="warning")
    servers = start_servers()
    emulator: PubSubEmulator | None = None
    try:
        try:
            emulator = start_emulator(TEST_DATA / "pubsub")
        except EmulatorUnavailable as exc:
            report("relay", {"transport": "pubsub", "skipped": str(exc)})
        for transport in ("redis", "pubsub"):
            if transport == "pubsub" and emulator is None:
                continue
            figures = asyncio.run(run_transport(servers, transport, emulator))
            target = {"target_events_per_second": 2000, "target_p99_ms": 1000} if transport == "redis" else {}
            failures = {
                name: figures.pop(name) for name in list(figures) if name.endswith(("_lost", "_duplicated"))
            }
            report("relay", {"transport": transport, **figures, **target}, failures)
    finally:
        if emulator is not None:
            emulator.stop()
        for server in servers.stop:
            server.stop()


if __name__ == "__main__":
    main()
