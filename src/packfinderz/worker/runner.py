"""The worker process: dependency checks, schema gate, roles as asyncio tasks, heartbeat, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis

from packfinderz import __version__
from packfinderz.config import Settings
from packfinderz.kit import migrations
from packfinderz.kit.boot import StartupFailed, apply_migration_policy, probe_postgres, probe_redis
from packfinderz.kit.db import Database, create_database
from packfinderz.kit.redis import create_redis
from packfinderz.kit.worker_context import Role, WorkerContext
from packfinderz.worker.http import WorkerHttp
from packfinderz.worker.roles import ROLE_FACTORIES

log = structlog.get_logger("worker")

SHUTDOWN_GRACE_SECONDS = 20.0
SCHEMA_RECHECK_SECONDS = 30.0
KNOWN_ROLES = ("consumers", "relay", "cron")
HEARTBEATS = Counter("packfinderz_worker_heartbeats_total", "Worker heartbeats written")


def heartbeat_key(instance: str) -> str:
    return f"pf:heartbeat:worker:{instance}"


class UnknownRole(ValueError):
    """A role name that is not one of consumers, relay, cron."""


def parse_roles(value: str | list[str]) -> list[str]:
    """Validate a comma list (or list) of role names, keeping order and dropping repeats."""
    names = value if isinstance(value, list) else [p.strip() for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in KNOWN_ROLES]
    if unknown or not names:
        raise UnknownRole(f"unknown worker role(s): {', '.join(unknown) or '(none given)'}")
    return list(dict.fromkeys(names))


class Worker:
    """Supervises the roles of one worker process."""

    def __init__(self, settings: Settings, roles: list[str]) -> None:
        self.settings = settings
        self.roles = roles
        self.instance = settings.instance
        self.started = time.monotonic()
        self.stop = asyncio.Event()
        self.heartbeats = 0

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("worker.shutdown_requested", signal=sig.name)
        self.stop.set()

    async def run(self) -> int:
        """Run until stopped; the process exit code."""
        database = create_database(self.settings)
        redis = create_redis(self.settings)
        ctx = WorkerContext(self.settings, database, redis, self.instance, self.stop)
        tasks: list[asyncio.Task[None]] = []
        http: WorkerHttp | None = None
        try:
            port = self.settings.worker_metrics_port
            if port is not None:
                # Served from the start so liveness and metrics answer while dependencies are awaited.
                try:
                    http = await WorkerHttp.start(self.settings, port)
                except OSError as exc:
                    log.error("startup.failed", resource="worker_http", error=f"port {port}: {exc.strerror}")
                    return 1
                log.info("worker.http_listening", port=port)
            if not await self._wait_for_dependencies(database, redis):
                return 0
            url = self.settings.database_url
            assert url is not None
            try:
                await apply_migration_policy(self.settings, url)
            except StartupFailed:
                return 1
            if not await self._schema_gate(database):
                return 0
            role_objects = [ROLE_FACTORIES[name](ctx) for name in self.roles if name in ROLE_FACTORIES]
            log.info(
                "worker.ready",
                env=self.settings.env,
                instance=self.instance,
                version=__version__,
                roles=self.roles,
            )
            tasks = [asyncio.create_task(self._supervise(role, ctx), name=role.name) for role in role_objects]
            heartbeat = asyncio.create_task(self._heartbeat_loop(ctx, role_objects))
            crashed = await self._wait_stop_or_crash(tasks)
            await self._shutdown(tasks, heartbeat)
            return 1 if crashed else 0
        finally:
            if http is not None:
                await http.stop()
            with contextlib.suppress(Exception):
                await redis.delete(heartbeat_key(self.instance))
            await redis.aclose()
            await database.dispose()
            log.info("worker.stopped", instance=self.instance, uptime_seconds=self.uptime())

    def uptime(self) -> float:
        return round(time.monotonic() - self.started, 1)

    async def _wait_for_dependencies(self, database: Database, redis: Redis) -> bool:
        """Probe Postgres and Redis, retrying with capped exponential backoff; False if stopped first."""
        delay = 1.0
        while not self.stop.is_set():
            failures = 0
            for name, probe in (("postgres", probe_postgres(database)), ("redis", probe_redis(redis))):
                try:
                    log.info("startup.resource_ok", resource=name, latency_ms=await probe)
                except Exception as exc:
                    failures += 1
                    log.error(
                        "worker.dependency_unavailable",
                        resource=name,
                        error=type(exc).__name__,
                        retry_in_seconds=round(delay, 1),
                    )
            if failures == 0:
                return True
            await self._sleep(delay + random.uniform(0, delay / 4))
            delay = min(delay * 2, 30.0)
        return False

    async def _schema_gate(self, database: Database) -> bool:
        """No role starts while the database is behind head; recheck every 30 s."""
        chain = migrations.revision_chain()
        while not self.stop.is_set():
            try:
                async with database.engine.connect() as connection:
                    current = await migrations.current_revision(connection)
            except Exception as exc:
                log.error(
                    "worker.dependency_unavailable",
                    resource="postgres",
                    error=type(exc).__name__,
                    retry_in_seconds=SCHEMA_RECHECK_SECONDS,
                )
                await self._sleep(SCHEMA_RECHECK_SECONDS)
                continue
            status = migrations.status_for(current, chain)
            if status.state != "pending":
                return True
            log.error(
                "worker.schema_pending", revision=current, head=status.head, pending=len(status.pending)
            )
            await self._sleep(SCHEMA_RECHECK_SECONDS)
        return False

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)

    async def _supervise(self, role: Role, ctx: WorkerContext) -> None:
        try:
            await role.run(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("worker.role_crashed", role=role.name, exc_info=exc)
            raise

    async def _wait_stop_or_crash(self, tasks: list[asyncio.Task[None]]) -> bool:
        stop_wait = asyncio.create_task(self.stop.wait())
        done, _ = await asyncio.wait([stop_wait, *tasks], return_when=asyncio.FIRST_COMPLETED)
        crashed = any(t is not stop_wait and t.exception() is not None for t in done if not t.cancelled())
        self.stop.set()
        stop_wait.cancel()
        return crashed

    async def _shutdown(self, tasks: list[asyncio.Task[None]], heartbeat: asyncio.Task[None]) -> None:
        """Give roles up to 20 s to finish in-flight work, then cancel what is left."""
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)

    async def _heartbeat_loop(self, ctx: WorkerContext, roles: list[Role]) -> None:
        interval = self.settings.worker_heartbeat_seconds
        while not self.stop.is_set():
            await self.beat(ctx, roles, interval)
            await self._sleep(interval)

    async def beat(self, ctx: WorkerContext, roles: list[Role], interval: float) -> dict[str, Any]:
        """Log worker.heartbeat and SET it in Redis with a TTL of three intervals."""
        self.heartbeats += 1
        body: dict[str, Any] = {
            "instance": self.instance,
            "roles": self.roles,
            "uptime_seconds": self.uptime(),
            "version": __version__,
            "at": datetime.now(UTC).isoformat(),
            "last_error": ctx.last_error,
            "counters": dict(ctx.counters),
        }
        for role in roles:
            body.update(role.heartbeat_fields())
        log.info("worker.heartbeat", **body)
        HEARTBEATS.inc()
        try:
            await ctx.redis.set(
                heartbeat_key(self.instance), json.dumps(body, default=str), ex=max(int(interval * 3), 1)
            )
        except Exception as exc:
            log.warning("worker.heartbeat_store_failed", error=type(exc).__name__)
        return body


async def run_worker(
    settings: Settings, roles: list[str], ready: Callable[[Worker], Awaitable[None]] | None = None
) -> int:
    """Create a worker, install signal handlers and run it to completion."""
    worker = Worker(settings, roles)
    worker.install_signal_handlers()
    if ready is not None:
        await ready(worker)
    return await worker.run()
