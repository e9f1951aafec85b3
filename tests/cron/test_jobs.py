"""The retention jobs (notification-cleanup, outbox-retention) and `packfinderz cron run|status`."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.cron.scheduler import JOBS, SCHEDULE, JobContext, job_lock_key, last_run, load_jobs
from packfinderz.events import jobs as outbox_jobs
from packfinderz.kit.db import Database
from packfinderz.notifications import jobs as notification_jobs
from tests.fixtures.db import scalar
from tests.fixtures.events import insert_store, worker_env
from tests.fixtures.processes import run


async def add_notices(db: Database, store_id: uuid.UUID, *, days_old: int, count: int) -> None:
    async with db.transaction() as session:
        for _ in range(count):
            for table, extra in (("notifications", ", store_id"), ("admin_notifications", "")):
                await session.execute(
                    text(
                        f"INSERT INTO {table} (type, title, message, created_at{extra}) "
                        "VALUES ('compliance', 't', 'm', now() - make_interval(days => :days)"
                        f"{', :store' if extra else ''})"
                    ),
                    {"days": days_old, "store": store_id},
                )


def context(settings: Settings, db: Database, redis: Redis) -> JobContext:
    return JobContext(settings, db, redis, run_id="test")


def test_the_jobs_built_here_are_registered_in_table_order() -> None:
    names = [spec.name for spec, _ in load_jobs()]
    assert {"notification-cleanup", "outbox-retention"} <= set(names)
    order = [spec.name for spec in SCHEDULE]
    assert names == sorted(names, key=order.index)
    assert JOBS["notification-cleanup"] is notification_jobs.notification_cleanup


async def test_notification_cleanup_deletes_notices_older_than_30_days(
    settings: Settings, db: Database, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notification_jobs, "BATCH", 2)  # exercise the batch loop with few rows
    store_id = await insert_store(db, "Inbox Co")
    await add_notices(db, store_id, days_old=31, count=5)
    await add_notices(db, store_id, days_old=29, count=2)

    counts = await notification_jobs.notification_cleanup(context(settings, db, redis))

    assert counts == {"deleted": 10}
    assert await scalar(db, "SELECT count(*) FROM notifications") == 2
    assert await scalar(db, "SELECT count(*) FROM admin_notifications") == 2
    assert (
        await scalar(db, "SELECT count(*) FROM notifications WHERE created_at < now() - interval '30 days'")
        == 0
    )


async def add_outbox(
    db: Database, *, published_days: int | None = None, failed_days: int | None = None, replayed: bool = False
) -> uuid.UUID:
    """An outbox row published or dead-lettered that many days ago (with its DLQ row when failed)."""
    event_id = uuid.uuid4()
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, payload, "
                "published_at, failed_at) VALUES (:id, 'media_deleted', 'media', :agg, '{}'::jsonb, "
                "now() - make_interval(days => :published), now() - make_interval(days => :failed))"
            ),
            {"id": event_id, "agg": uuid.uuid4(), "published": published_days, "failed": failed_days},
        )
        if failed_days is not None:
            await session.execute(
                text(
                    "INSERT INTO outbox_dlq (event_id, event_type, aggregate_type, aggregate_id, payload, "
                    "error_reason, attempt_count, failed_at) VALUES (:id, 'media_deleted', 'media', :agg, "
                    "'{}'::jsonb, 'max_attempts', 10, now() - make_interval(days => :failed))"
                ),
                {"id": event_id, "agg": uuid.uuid4(), "failed": failed_days},
            )
            if replayed:
                await session.execute(
                    text("UPDATE outbox_events SET failed_at = NULL WHERE id = :id"), {"id": event_id}
                )
    return event_id


async def test_outbox_retention_keeps_what_is_recent_pending_or_replayed(
    settings: Settings, db: Database, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_jobs, "BATCH", 2)
    old_published = [await add_outbox(db, published_days=31) for _ in range(3)]
    recent_published = await add_outbox(db, published_days=29)
    pending = await add_outbox(db)
    old_failed = await add_outbox(db, failed_days=181)
    recent_failed = await add_outbox(db, failed_days=100)
    replayed = await add_outbox(db, failed_days=200, replayed=True)

    counts = await outbox_jobs.outbox_retention(context(settings, db, redis))

    assert counts == {"published_deleted": 3, "dlq_deleted": 1}
    async with db.transaction() as session:
        left = {r.id for r in await session.execute(text("SELECT id FROM outbox_events"))}
        dlq = {r.event_id for r in await session.execute(text("SELECT event_id FROM outbox_dlq"))}
    assert left == {recent_published, pending, recent_failed, replayed}
    assert not left & set(old_published)
    assert dlq == {recent_failed, replayed}
    assert old_failed not in left


async def test_cron_run_runs_one_job_now_and_prints_the_result(
    settings: Settings, db: Database, redis: Redis
) -> None:
    store_id = await insert_store(db, "Cli Co")
    await add_notices(db, store_id, days_old=40, count=1)

    done = run(["cron", "run", "notification-cleanup"], worker_env(settings))

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["job"] == "notification-cleanup"
    assert result["result"] == "success"
    assert result["counts"] == {"deleted": 2}
    assert await scalar(db, "SELECT count(*) FROM notifications") == 0
    last = await last_run(redis, "notification-cleanup")
    assert last["last_result"] == "success"
    assert await redis.exists(job_lock_key("notification-cleanup")) == 0


async def test_cron_run_refusals(settings: Settings, redis: Redis) -> None:
    env = worker_env(settings)
    unknown = run(["cron", "run", "no-such-job"], env)
    assert unknown.returncode == 1
    assert "unknown or unimplemented job 'no-such-job'" in unknown.stderr
    assert "notification-cleanup" in unknown.stderr
    day = run(["cron", "run", "outbox-retention", "--day", "2026-11-24"], env)
    assert day.returncode == 1
    assert "--day is not accepted by outbox-retention" in day.stderr
    await redis.set(job_lock_key("outbox-retention"), "someone", ex=30)
    locked = run(["cron", "run", "outbox-retention"], env)
    assert locked.returncode == 1
    assert "already running elsewhere" in locked.stderr


async def test_cron_status_lists_every_job_of_the_table(settings: Settings, redis: Redis) -> None:
    await redis.hset("pf:cron:last:outbox-retention", mapping={"last_result": "success"})
    done = run(["cron", "status"], worker_env(settings))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.strip().splitlines() if not line.startswith("{")]  # not log lines
    assert [line.split()[0] for line in lines] == [spec.name for spec in SCHEDULE]
    retention = next(line for line in lines if line.startswith("outbox-retention"))
    assert "ready" in retention
    assert "last=success" in retention
