"""The worker roles in a real `packfinderz worker` process: relay + consumers + cron, heartbeat, metrics."""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events.registry import LicenseStatusChanged
from packfinderz.kit.db import Database
from packfinderz.kit.transport.redis_streams import stream_key
from tests.fixtures.events import emit_committed, eventually, insert_license, insert_store, worker_env
from tests.fixtures.processes import Process, free_port

Spawn = Callable[..., Process]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str]) -> Process:
        process = Process(args, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def fast_env(settings: Settings, **extra: str) -> dict[str, str]:
    return worker_env(
        settings,
        PACKFINDERZ_WORKER_HEARTBEAT_SECONDS="1",
        PACKFINDERZ_OUTBOX_PUBLISH_POLL_MS="100",
        PACKFINDERZ_EVENTS_REDELIVERY_IDLE="1",
        **extra,
    )


async def count(db: Database, table: str) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def test_a_worker_with_every_role_turns_events_into_notices(
    settings: Settings, db: Database, redis: Redis, spawn: Spawn
) -> None:
    store_id = await insert_store(db, "Worker Co")
    license_id = await insert_license(db, store_id)
    port = free_port()
    env = fast_env(settings, PACKFINDERZ_WORKER_METRICS_PORT=str(port))
    worker = spawn(["worker"], env)
    await worker.wait_for_event("worker.ready")
    await emit_committed(db, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="pending"))

    async def noticed() -> bool:
        return await count(db, "notifications") == 1 and await count(db, "admin_notifications") == 1

    await eventually(noticed, timeout=30, what="the worker to deliver the notices")
    beats = await worker.wait_for_event(
        "worker.heartbeat", where=lambda b: b.get("events_handled", {}).get("notifications", 0) > 0
    )
    beat = beats[-1]
    assert beat["roles"] == ["consumers", "relay", "cron"]
    assert beat["cron_leader"] is True
    assert {"relay_published", "relay_pending", "relay_lag_seconds", "dead_lettered"} <= set(beat)
    assert sum(b.get("relay_published", 0) for b in worker.events("worker.heartbeat")) >= 1
    stored = json.loads(await redis.get(f"pf:heartbeat:worker:{env['DYNO']}") or "{}")
    assert "events_handled" in stored
    assert "cron_leader" in stored
    # a fresh deployment runs each cron job once (no last-run record = due)
    await eventually(_job_ran(redis, "outbox-retention"), what="the first cron run")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        scraped = (await http.get("/metrics")).text
    assert 'packfinderz_outbox_published_total{event_type="license_status_changed"}' in scraped
    assert 'packfinderz_consumer_messages_total{consumer="notifications",outcome="ok"}' in scraped
    assert 'packfinderz_cron_job_runs_total{job="outbox-retention",result="success"}' in scraped

    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=30) == 0
    assert await redis.exists("pf:cron:leader:test") == 0, "the leader lock is released on shutdown"
    assert "Traceback" not in worker.output()


async def test_worker_roles_select_a_subset(
    settings: Settings, db: Database, redis: Redis, spawn: Spawn
) -> None:
    store_id = await insert_store(db, "Relay Only Co")
    license_id = await insert_license(db, store_id)
    worker = spawn(["worker"], fast_env(settings, PACKFINDERZ_WORKER_ROLES="relay"))
    await worker.wait_for_event("worker.ready")
    await emit_committed(
        db, LicenseStatusChanged(license_id=license_id, store_id=store_id, status="verified")
    )

    async def published() -> bool:
        return bool(await redis.xlen(stream_key("notifications")))

    await eventually(published, timeout=30, what="the relay to publish")
    [beat, *_] = await worker.wait_for_event("worker.heartbeat")
    assert beat["roles"] == ["relay"]
    assert "relay_pending" in beat
    assert "cron_leader" not in beat
    assert "events_handled" not in beat
    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=30) == 0
    assert await count(db, "notifications") == 0, "no consumer ran"
    assert await redis.exists("pf:cron:leader:test") == 0
    assert await redis.xinfo_groups(stream_key("notifications")) == []


def _job_ran(redis: Redis, job: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await redis.hget(f"pf:cron:last:{job}", "last_result"))

    return check
