"""What every worker role is given and must provide; platform modules and domains import it from here.

The worker runner (worker/runner.py) builds a WorkerContext and starts the roles listed in
worker/roles.py; the roles (events relay and consumers, cron scheduler) only need this module, so
nothing imports the runner back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.kit.db import Database


@dataclass
class WorkerContext:
    """What every role gets: configuration, connections, the stop signal and shared counters."""

    settings: Settings
    db: Database
    redis: Redis
    instance: str
    stop: asyncio.Event
    counters: dict[str, Any] = field(default_factory=dict)
    last_error: dict[str, Any] | None = None

    def record_error(self, component: str, message: str) -> None:
        self.last_error = {
            "at": datetime.now(UTC).isoformat(),
            "component": component,
            "message": message[:300],
        }


class Role(Protocol):
    """A long-running part of the worker; `run` returns when `ctx.stop` is set."""

    name: str

    async def run(self, ctx: WorkerContext) -> None: ...

    def heartbeat_fields(self) -> dict[str, Any]: ...


RoleFactory = Callable[[WorkerContext], Role]
