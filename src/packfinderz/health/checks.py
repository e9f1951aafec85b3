"""Readiness checks: each runs concurrently with its own timeout (platform.md §2)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.kit import migrations
from packfinderz.kit.db import Database

CheckFn = Callable[[], Awaitable[dict[str, Any] | None]]


class CheckFailed(Exception):
    """Raised by a check to fail with a short public message and extra fields."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


@dataclass(frozen=True)
class Check:
    """One named dependency probe. `fn` returns extra fields, or raises to fail."""

    name: str
    fn: CheckFn
    timeout: float
    required: bool = True


@dataclass
class Readiness:
    """The set of checks of a process, with a short cache so probes cannot stampede dependencies."""

    checks: list[Check] = field(default_factory=list)
    cache_seconds: float = 2.0
    _cached: tuple[float, bool, dict[str, Any]] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add(self, check: Check) -> None:
        self.checks = [c for c in self.checks if c.name != check.name] + [check]

    async def run(self) -> tuple[bool, dict[str, Any]]:
        """(all required ok, {name: result}); cached for `cache_seconds`."""
        async with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.cache_seconds:
                return self._cached[1], self._cached[2]
            results = await asyncio.gather(*(_run_one(c) for c in self.checks))
            report = {c.name: r for c, r in zip(self.checks, results, strict=True)}
            ok = all(r["status"] == "ok" for c, r in zip(self.checks, results, strict=True) if c.required)
            self._cached = (time.monotonic(), ok, report)
            return ok, report


async def _run_one(check: Check) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any]
    try:
        extra = await asyncio.wait_for(check.fn(), timeout=check.timeout)
        result = {"status": "ok", **(extra or {})}
    except TimeoutError:
        result = {"status": "fail", "error": f"timed out after {check.timeout:g}s"}
    except CheckFailed as exc:
        result = {"status": "fail", "error": str(exc), **exc.fields}
    except Exception as exc:
        result = {"status": "fail", "error": _short_error(exc)}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    if not check.required:
        result["required"] = False
    return result


def _short_error(exc: Exception) -> str:
    """A short description that never carries a DSN or secret: the exception type and first line."""
    message = str(exc).splitlines()[0] if str(exc) else ""
    if "://" in message or "password" in message.lower():
        message = ""
    return f"{type(exc).__name__}: {message}"[:200].rstrip(": ")


def postgres_check(database: Database, chain: list[str], timeout: float = 2.0) -> Check:
    """SELECT 1 plus the database revision against the code's head; pending migrations fail."""

    async def probe() -> dict[str, Any]:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await migrations.current_revision(connection)
        status = migrations.status_for(current, chain)
        fields = {"revision": current, "head": status.head, "migrations": status.state}
        if status.state == "pending":
            raise CheckFailed(f"{len(status.pending)} pending migration(s)", **fields)
        if status.state == "ahead":
            fields["warning"] = "database revision is newer than this code"
        return fields

    return Check("postgres", probe, timeout)


def redis_check(redis: Redis, name: str = "redis", timeout: float = 2.0) -> Check:
    """PING."""

    async def probe() -> None:
        if not await redis.ping():
            raise CheckFailed("PING failed")

    return Check(name, probe, timeout)
