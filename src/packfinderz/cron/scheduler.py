"""Cron (worker role `cron`, platform.md §12): a Redis leader lock, job locks and last-run hashes.

Jobs live in their domains: a module decorates `async def run(ctx: JobContext) -> dict[str, int]`
with `@job("<name>")`, where the name is a row of SCHEDULE, and is listed in JOB_MODULES. A job
returns its item counts; a `failed` count above zero makes the run a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.cron.schedule import CronSchedule
from packfinderz.kit.aio import wait_any
from packfinderz.kit.db import Database
from packfinderz.kit.worker_context import WorkerContext

log = structlog.get_logger("cron")

JOB_DURATION = Histogram(
    "packfinderz_cron_job_duration_seconds",
    "Cron job run duration",
    ["job"],
    buckets=(0.1, 1, 10, 60, 300, 1800),
)
JOB_RUNS = Counter("packfinderz_cron_job_runs_total", "Cron job runs by result", ["job", "result"])
JOB_SUCCESS = Counter("packfinderz_cron_job_success_total", "Successful cron job runs", ["job"])
JOB_FAILURE = Counter("packfinderz_cron_job_failure_total", "Failed cron job runs", ["job"])
JOB_LAST_SUCCESS = Gauge(
    "packfinderz_cron_job_last_success_timestamp_seconds", "Unix time of the last successful run", ["job"]
)
JOB_ITEMS = Counter("packfinderz_cron_job_items_total", "Items acted on by cron jobs", ["job", "action"])

TICK_SECONDS = 30.0
LEADER_TTL_SECONDS = 60.0
ACQUIRE_EVERY_SECONDS = 10.0
RENEW_EVERY_SECONDS = 20.0

# Compare-and-renew / compare-and-release: only the holder's token may extend or drop a lock.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass(frozen=True)
class JobSpec:
    """A row of the cron table: name, UTC schedule, timeout, whether `cron run --day` applies."""

    name: str
    schedule: str
    timeout_seconds: float
    accepts_day: bool = False

    @property
    def cron(self) -> CronSchedule:
        return CronSchedule.parse(self.schedule)


# platform.md §12, in table order (due jobs run in this order).
SCHEDULE: tuple[JobSpec, ...] = (
    JobSpec("ad-daily-rollup", "15 0 * * *", 1800, accepts_day=True),
    JobSpec("ad-usage-billing", "45 0 * * *", 1800),
    JobSpec("license-lifecycle", "0 6 * * *", 1800),
    JobSpec("order-ttl", "30 6 * * *", 1800),
    JobSpec("notification-cleanup", "0 7 * * *", 600),
    JobSpec("pending-media-cleanup", "15 7 * * *", 600),
    JobSpec("outbox-retention", "30 7 * * *", 900),
    JobSpec("subscription-reconcile", "10 * * * *", 900),
)
# Modules whose import registers job implementations (each domain adds its own).
JOB_MODULES = (
    "packfinderz.notifications.jobs",
    "packfinderz.events.jobs",
    "packfinderz.licenses.jobs",
    "packfinderz.media.jobs",
    "packfinderz.orders.jobs",
    "packfinderz.billing.jobs",
    "packfinderz.ads.jobs",
)


@dataclass
class JobContext:
    """What a job gets: configuration, connections, its run id and the `--day` of `cron run`."""

    settings: Settings
    db: Database
    redis: Redis
    run_id: str
    day: date | None = None
    log: Any = field(default=None)


JobFn = Callable[[JobContext], Awaitable[dict[str, int]]]
JOBS: dict[str, JobFn] = {}


def job(name: str) -> Callable[[JobFn], JobFn]:
    """Decorator registering a job implementation under a name of SCHEDULE."""
    if name not in {spec.name for spec in SCHEDULE}:
        raise ValueError(f"cron job {name!r} is not in the schedule table")

    def decorate(fn: JobFn) -> JobFn:
        JOBS[name] = fn
        return fn

    return decorate


def load_jobs() -> list[tuple[JobSpec, JobFn]]:
    """Import the job modules; the implemented jobs in table order."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return [(spec, JOBS[spec.name]) for spec in SCHEDULE if spec.name in JOBS]


def leader_key(env: str) -> str:
    return f"pf:cron:leader:{env}"


def job_lock_key(name: str) -> str:
    return f"pf:cron:job:{name}"


def last_run_key(name: str) -> str:
    return f"pf:cron:last:{name}"


async def last_run(redis: Redis, name: str) -> dict[str, str]:
    """The last-run hash of a job (empty when it never ran)."""
    values: dict[Any, Any] = await redis.hgetall(last_run_key(name))
    return {str(k): str(v) for k, v in values.items()}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: success|failure|skipped|locked, counts, duration."""

    job: str
    run_id: str
    result: str
    counts: dict[str, int]
    duration_ms: float
    error: str | None = None


async def run_job(
    spec: JobSpec,
    fn: JobFn,
    *,
    settings: Settings,
    db: Database,
    redis: Redis,
    day: date | None = None,
    clock: Callable[[], datetime] = utcnow,
    is_due: Callable[[dict[str, str]], bool] | None = None,
) -> RunResult:
    """Run a job under its lock (`SET NX EX <timeout>`), recording the last-run hash and metrics.

    `is_due` re-checks the last-run hash once the lock is held, so two schedulers never run the
    same slot twice; it returns `locked` (nothing ran) when another run holds the lock.
    """
    run_id = uuid.uuid4().hex
    lock = job_lock_key(spec.name)
    if not await redis.set(lock, run_id, nx=True, ex=max(int(spec.timeout_seconds), 1)):
        return RunResult(spec.name, run_id, "locked", {}, 0.0)
    release = redis.register_script(_RELEASE)
    try:
        if is_due is not None and not is_due(await last_run(redis, spec.name)):
            return RunResult(spec.name, run_id, "locked", {}, 0.0)
        return await _execute(
            spec, fn, settings=settings, db=db, redis=redis, run_id=run_id, day=day, clock=clock
        )
    finally:
        with contextlib.suppress(Exception):
            await release(keys=[lock], args=[run_id])


async def _execute(
    spec: JobSpec,
    fn: JobFn,
    *,
    settings: Settings,
    db: Database,
    redis: Redis,
    run_id: str,
    day: date | None,
    clock: Callable[[], datetime],
) -> RunResult:
    bound = log.bind(job=spec.name, run_id=run_id)
    last = last_run_key(spec.name)
    await redis.hset(last, mapping={"last_started_at": _iso(clock())})
    bound.info("cron.job.start")
    started = time.perf_counter()
    counts: dict[str, int] = {}
    error: str | None = None
    try:
        context = JobContext(settings, db, redis, run_id, day, bound)
        counts = dict(await asyncio.wait_for(fn(context), spec.timeout_seconds))
        result = "failure" if counts.get("failed", 0) > 0 else "success"
    except Exception as exc:
        result = "failure"
        error = f"{type(exc).__name__}: {exc}"[:300]
        bound.error("cron.job.error", error=error, exc_info=exc)
    duration = time.perf_counter() - started
    finished = clock()
    record: dict[Any, Any] = {"last_finished_at": _iso(finished), "last_result": result}
    if result == "success":
        record["last_success_at"] = _iso(finished)
        JOB_SUCCESS.labels(spec.name).inc()
        JOB_LAST_SUCCESS.labels(spec.name).set(finished.timestamp())
    else:
        JOB_FAILURE.labels(spec.name).inc()
    with contextlib.suppress(Exception):
        await redis.hset(last, mapping=record)
    JOB_RUNS.labels(spec.name, result).inc()
    JOB_DURATION.labels(spec.name).observe(duration)
    for action, count in counts.items():
        JOB_ITEMS.labels(spec.name, action).inc(count)
    duration_ms = round(duration * 1000, 2)
    (bound.info if result == "success" else bound.error)(
        "cron.job.finish", duration_ms=duration_ms, result=result, counts=counts, error=error
    )
    return RunResult(spec.name, run_id, result, counts, duration_ms, error)


class Scheduler:
    """Runs due jobs while holding the leader lock `pf:cron:leader:<APP_ENV>`."""

    name = "cron"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        redis: Redis,
        *,
        instance: str,
        jobs: list[tuple[JobSpec, JobFn]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = TICK_SECONDS,
        leader_ttl_seconds: float = LEADER_TTL_SECONDS,
        acquire_every_seconds: float = ACQUIRE_EVERY_SECONDS,
        renew_every_seconds: float = RENEW_EVERY_SECONDS,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.jobs = load_jobs() if jobs is None else jobs
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.leader_ttl_ms = int(leader_ttl_seconds * 1000)
        self.acquire_every = acquire_every_seconds
        self.renew_every = renew_every_seconds
        self.key = leader_key(settings.env)
        self.token = f"{instance}:{uuid.uuid4()}"
        self.is_leader = False
        self._kick = asyncio.Event()
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._schedules = {spec.name: spec.cron for spec, _ in self.jobs}

    async def run(self, stop: asyncio.Event) -> None:
        """Hold leadership and tick until `stop`; release the lock on the way out."""
        leadership = asyncio.create_task(self._leadership(stop))
        try:
            while not stop.is_set():
                self._kick.clear()
                if self.is_leader:
                    await self.run_due(stop)
                await wait_any(stop, self._kick, seconds=self.tick_seconds)
        finally:
            leadership.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leadership
            await self.release()

    async def _leadership(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if self.is_leader:
                    renewed = await self._renew(keys=[self.key], args=[self.token, self.leader_ttl_ms])
                    if not renewed:
                        self.is_leader = False
                        log.warning("cron.leader_lost", token=self.token)
                elif await self.redis.set(self.key, self.token, nx=True, px=self.leader_ttl_ms):
                    self.is_leader = True
                    self._kick.set()  # a new leader looks for due jobs at once
                    log.info("cron.leader_acquired", token=self.token)
            except Exception as exc:
                # Without a confirmed lock no job may start.
                self.is_leader = False
                log.warning("cron.leader_check_failed", error=type(exc).__name__)
            await wait_any(stop, seconds=self.renew_every if self.is_leader else self.acquire_every)

    async def release(self) -> None:
        """Compare-and-delete the leader lock."""
        if self.is_leader:
            with contextlib.suppress(Exception):
                await self._release(keys=[self.key], args=[self.token])
            self.is_leader = False
            log.info("cron.leader_released", token=self.token)

    def _due(self, name: str, last: dict[str, str], now: datetime) -> bool:
        """Due = the latest scheduled time at or before now is after the last start (none = due)."""
        latest = self._schedules[name].latest(now)
        started = _parse_iso(last.get("last_started_at"))
        return latest is not None and (started is None or latest > started)

    async def run_due(self, stop: asyncio.Event | None = None) -> list[RunResult]:
        """Run every due job once, sequentially in table order; a failure never stops the others."""
        results: list[RunResult] = []
        disabled = self.settings.disabled_cron_jobs
        for spec, fn in self.jobs:
            if (stop is not None and stop.is_set()) or not self.is_leader:
                break
            now = self.clock()
            try:
                if not self._due(spec.name, await last_run(self.redis, spec.name), now):
                    continue
                if spec.name in disabled:
                    results.append(await self._skip(spec, now))
                    continue

                def still_due(last: dict[str, str], name: str = spec.name, at: datetime = now) -> bool:
                    return self._due(name, last, at)

                outcome = await run_job(
                    spec,
                    fn,
                    settings=self.settings,
                    db=self.db,
                    redis=self.redis,
                    clock=self.clock,
                    is_due=still_due,
                )
            except Exception as exc:
                log.error("cron.schedule_error", job=spec.name, error=type(exc).__name__)
                continue
            if outcome.result != "locked":
                results.append(outcome)
        return results

    async def _skip(self, spec: JobSpec, now: datetime) -> RunResult:
        """A disabled job's slot is marked skipped once, so it is not reconsidered every tick."""
        await self.redis.hset(
            last_run_key(spec.name), mapping={"last_started_at": _iso(now), "last_result": "skipped"}
        )
        JOB_RUNS.labels(spec.name, "skipped").inc()
        log.info("cron.job.skipped", job=spec.name, reason="CRON_DISABLED_JOBS")
        return RunResult(spec.name, "", "skipped", {}, 0.0)

    def heartbeat_fields(self) -> dict[str, Any]:
        return {"cron_leader": self.is_leader}


class CronRole:
    """Worker role `cron`."""

    name = "cron"

    def __init__(self, ctx: WorkerContext) -> None:
        self.scheduler = Scheduler(ctx.settings, ctx.db, ctx.redis, instance=ctx.instance)

    async def run(self, ctx: WorkerContext) -> None:
        await self.scheduler.run(ctx.stop)

    def heartbeat_fields(self) -> dict[str, Any]:
        return self.scheduler.heartbeat_fields()
