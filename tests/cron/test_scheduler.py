"""The cron scheduler on real Redis: leader lock, job locks, last-run hashes, catch-up, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.cron.scheduler import (
    JobContext,
    JobFn,
    JobSpec,
    Scheduler,
    job_lock_key,
    last_run,
    leader_key,
    run_job,
)
from packfinderz.kit.db import Database
from packfinderz.kit.redis import create_redis
from tests.fixtures.events import eventually

START = datetime(2026, 11, 25, 10, 0, 30, tzinfo=UTC)


class Clock:
    """A settable UTC clock shared by the schedulers of a test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fast(
    settings: Settings,
    redis: Redis,
    db: Database,
    instance: str,
    *,
    jobs: list[tuple[JobSpec, JobFn]],
    clock: Clock,
) -> Scheduler:
    return Scheduler(
        settings,
        db,
        redis,
        instance=instance,
        jobs=jobs,
        clock=clock,
        tick_seconds=0.05,
        leader_ttl_seconds=1.0,
        acquire_every_seconds=0.05,
        renew_every_seconds=0.2,
    )


@contextlib.asynccontextmanager
async def started(scheduler: Scheduler) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task


def recorder(runs: list[str], name: str, result: dict[str, int] | None = None) -> JobFn:
    async def run(ctx: JobContext) -> dict[str, int]:
        runs.append(name)
        await asyncio.sleep(0.05)
        return result if result is not None else {"touched": 1}

    return run


def count(runs: list[str], n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(runs) >= n

    return check


def runs_metric(job: str, result: str) -> float:
    return REGISTRY.get_sample_value("packfinderz_cron_job_runs_total", {"job": job, "result": result}) or 0.0


async def test_two_schedulers_run_each_job_once_per_schedule(
    settings: Settings, db: Database, redis: Redis
) -> None:
    runs: list[str] = []
    jobs = [
        (JobSpec("test-every-minute", "* * * * *", 10), recorder(runs, "minute")),
        (JobSpec("test-hourly", "0 * * * *", 10), recorder(runs, "hourly")),
    ]
    clock = Clock(START)
    other = create_redis(settings)
    first = fast(settings, redis, db, "worker.1", jobs=jobs, clock=clock)
    second = fast(settings, other, db, "worker.2", jobs=jobs, clock=clock)
    try:
        async with started(first) as stop_first, started(second) as stop_second:
            await eventually(count(runs, 2), what="the first slot of both jobs")
            await asyncio.sleep(0.5)  # many ticks of both schedulers in the same slot
            assert sorted(runs) == ["hourly", "minute"]
            assert [first.is_leader, second.is_leader].count(True) == 1
            for minute in range(1, 4):
                clock.advance(60)
                await eventually(count(runs, 2 + minute), what=f"minute slot {minute}")
                await asyncio.sleep(0.3)
                assert runs.count("minute") == 1 + minute
            # the leader stops and releases the lock; the other takes over and keeps the schedule
            follower, stop_leader = (second, stop_first) if first.is_leader else (first, stop_second)
            stop_leader.set()
            await eventually(_is_leader(follower), what="the follower to take over")
            clock.advance(60)
            await eventually(count(runs, 6), what="the slot after the failover")
            await asyncio.sleep(0.3)
    finally:
        await other.aclose()
    assert runs.count("minute") == 5
    assert runs.count("hourly") == 1
    last = await last_run(redis, "test-every-minute")
    assert last["last_result"] == "success"
    assert set(last) == {"last_started_at", "last_finished_at", "last_result", "last_success_at"}
    assert await redis.exists(leader_key("test")) == 0, "both released the lock on shutdown"


async def test_missed_slots_collapse_into_one_catch_up_run(
    settings: Settings, db: Database, redis: Redis
) -> None:
    runs: list[str] = []
    clock = Clock(START)
    jobs = [(JobSpec("test-5min", "*/5 * * * *", 10), recorder(runs, "x"))]
    scheduler = fast(settings, redis, db, "w", jobs=jobs, clock=clock)
    async with started(scheduler):
        await eventually(count(runs, 1), what="the first run (no record = due)")
        clock.advance(3600)  # twelve slots missed
        await eventually(count(runs, 2), what="the catch-up run")
        await asyncio.sleep(0.4)
    assert runs == ["x", "x"]


async def test_renewal_needs_the_holders_token(settings: Settings, db: Database, redis: Redis) -> None:
    runs: list[str] = []
    clock = Clock(START)
    jobs = [(JobSpec("test-min", "* * * * *", 10), recorder(runs, "x"))]
    scheduler = fast(settings, redis, db, "w", jobs=jobs, clock=clock)
    async with started(scheduler):
        await eventually(count(runs, 1), what="a first run")
        assert await redis.get(leader_key("test")) == scheduler.token
        assert scheduler.token.startswith("w:")
        assert 0 < await redis.pttl(leader_key("test")) <= 1000
        await redis.set(leader_key("test"), "intruder:token")  # someone else owns it now (no TTL)
        await eventually(_not_leader(scheduler), what="the failed renewal to drop leadership")
        clock.advance(60)
        await asyncio.sleep(0.5)
        assert runs == ["x"], "no job starts without the lock"
        await scheduler.release()
        assert await redis.get(leader_key("test")) == "intruder:token", "release is compare-and-delete"


async def test_shutdown_releases_the_leader_lock(settings: Settings, db: Database, redis: Redis) -> None:
    scheduler = fast(settings, redis, db, "w", jobs=[], clock=Clock(START))
    async with started(scheduler):
        await eventually(_is_leader(scheduler), what="leadership")
        assert await redis.exists(leader_key("test")) == 1
    assert await redis.exists(leader_key("test")) == 0


async def test_a_failing_job_never_stops_the_others(settings: Settings, db: Database, redis: Redis) -> None:
    runs: list[str] = []

    async def broken(ctx: JobContext) -> dict[str, int]:
        runs.append("broken")
        raise RuntimeError("database went away")

    jobs = [
        (JobSpec("test-broken", "* * * * *", 10), broken),
        (JobSpec("test-partial", "* * * * *", 10), recorder(runs, "partial", {"done": 3, "failed": 1})),
        (JobSpec("test-fine", "* * * * *", 10), recorder(runs, "fine")),
    ]
    scheduler = fast(settings, redis, db, "w", jobs=jobs, clock=Clock(START))
    scheduler.is_leader = True
    before = {
        (name, result): runs_metric(name, result)
        for name in ("test-broken", "test-partial", "test-fine")
        for result in ("failure", "success")
    }
    results = await scheduler.run_due()
    assert [(r.job, r.result) for r in results] == [
        ("test-broken", "failure"),
        ("test-partial", "failure"),
        ("test-fine", "success"),
    ]
    assert runs == ["broken", "partial", "fine"]
    assert results[0].error == "RuntimeError: database went away"
    assert results[1].counts == {"done": 3, "failed": 1}
    assert (await last_run(redis, "test-broken"))["last_result"] == "failure"
    assert "last_success_at" not in await last_run(redis, "test-broken")
    assert runs_metric("test-broken", "failure") == before[("test-broken", "failure")] + 1
    assert runs_metric("test-partial", "failure") == before[("test-partial", "failure")] + 1
    assert runs_metric("test-fine", "success") == before[("test-fine", "success")] + 1
    assert (
        REGISTRY.get_sample_value(
            "packfinderz_cron_job_items_total", {"job": "test-partial", "action": "failed"}
        )
        == 1
    )
    assert (
        REGISTRY.get_sample_value("packfinderz_cron_job_last_success_timestamp_seconds", {"job": "test-fine"})
        or 0
    ) > 0
    assert await redis.exists(job_lock_key("test-fine")) == 0, "the job lock is released after the run"
    assert await scheduler.run_due() == [], "each slot runs once"


async def test_disabled_jobs_are_skipped_once_per_slot(
    settings: Settings, db: Database, redis: Redis
) -> None:
    runs: list[str] = []
    disabled = settings.model_copy(update={"cron_disabled_jobs": "test-off"})
    jobs = [
        (JobSpec("test-off", "* * * * *", 10), recorder(runs, "off")),
        (JobSpec("test-on", "* * * * *", 10), recorder(runs, "on")),
    ]
    scheduler = fast(disabled, redis, db, "w", jobs=jobs, clock=Clock(START))
    scheduler.is_leader = True
    skipped_before = runs_metric("test-off", "skipped")
    assert [(r.job, r.result) for r in await scheduler.run_due()] == [
        ("test-off", "skipped"),
        ("test-on", "success"),
    ]
    assert await scheduler.run_due() == []
    assert runs == ["on"]
    assert (await last_run(redis, "test-off"))["last_result"] == "skipped"
    assert runs_metric("test-off", "skipped") == skipped_before + 1


async def test_a_held_job_lock_prevents_an_overlapping_run(
    settings: Settings, db: Database, redis: Redis
) -> None:
    runs: list[str] = []
    spec = JobSpec("test-locked", "* * * * *", 10)
    scheduler = fast(settings, redis, db, "w", jobs=[(spec, recorder(runs, "x"))], clock=Clock(START))
    scheduler.is_leader = True
    await redis.set(job_lock_key("test-locked"), "another-run", ex=30)
    assert await scheduler.run_due() == []
    assert runs == []
    assert await redis.get(job_lock_key("test-locked")) == "another-run", "someone else's lock is untouched"
    await redis.delete(job_lock_key("test-locked"))
    assert [r.result for r in await scheduler.run_due()] == ["success"]


async def test_a_job_past_its_timeout_fails(settings: Settings, db: Database, redis: Redis) -> None:
    async def slow(ctx: JobContext) -> dict[str, int]:
        await asyncio.sleep(5)
        return {}

    result = await run_job(
        JobSpec("test-slow", "* * * * *", 0.2), slow, settings=settings, db=db, redis=redis
    )
    assert result.result == "failure"
    assert result.error is not None
    assert result.error.startswith("TimeoutError")


def _is_leader(scheduler: Scheduler) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return scheduler.is_leader

    return check


def _not_leader(scheduler: Scheduler) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not scheduler.is_leader

    return check
