"""Startup steps shared by the api and the worker: resource probes and the hybrid migration policy."""

from __future__ import annotations

import asyncio
import os
import time

import structlog
import typer
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import ConfigError, Settings, load_settings, unknown_prefixed_variables
from packfinderz.kit import migrations
from packfinderz.kit.db import Database
from packfinderz.kit.logging import configure_logging, get_logger, setup_logging

log = structlog.get_logger("startup")


# --- process settings (every CLI command that starts something) -------------------------------------


def process_settings(groups: set[str], service: str) -> Settings:
    """Load settings for a process, configure logging, and exit 1 naming every bad variable."""
    try:
        settings = load_settings(groups)
    except ConfigError as exc:
        configure_logging(service=service, env=os.environ.get("PACKFINDERZ_APP_ENV", "unknown"), instance="-")
        # One line naming every bad variable (never a value), then exit before anything starts.
        get_logger("startup").error("startup.config_invalid", variables=exc.variables, problems=exc.problems)
        raise typer.Exit(1) from None
    setup_logging(settings, service)
    log = get_logger("startup")
    for name in unknown_prefixed_variables():
        log.warning("config.unknown_variable", variable=name)
    if not settings.is_prod and (settings.jwt_secret is None or settings.storage_signing_secret is None):
        log.warning("config.dev_secrets_in_use", env=settings.env)
    if settings.is_prod and settings.storage_adapter == "local" and "app" in groups:
        log.error("startup.ephemeral_storage", message="STORAGE_ADAPTER=local loses files on dyno restart")
    return settings


class StartupFailed(Exception):
    """A startup step failed; the process exits 1."""

    def __init__(self, resource: str, error: str) -> None:
        super().__init__(f"{resource}: {error}")
        self.resource = resource
        self.error = error


async def probe_postgres(database: Database) -> float:
    """SELECT 1; returns latency in ms."""
    started = time.perf_counter()
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return round((time.perf_counter() - started) * 1000, 2)


async def probe_redis(redis: Redis) -> float:
    """PING; returns latency in ms."""
    started = time.perf_counter()
    await redis.ping()
    return round((time.perf_counter() - started) * 1000, 2)


async def apply_migration_policy(settings: Settings, url: str) -> bool:
    """Hybrid policy (platform.md §4.3): migrate only in dev with AUTO_MIGRATE; True when it ran.

    In prod the flag is ignored with an error line; a failed dev migration raises StartupFailed.
    """
    if not settings.auto_migrate:
        return False
    if settings.env == "prod":
        log.error(
            "migrate.auto_disabled_in_prod",
            message="PACKFINDERZ_AUTO_MIGRATE is ignored in prod; run `packfinderz migrate up`",
        )
        return False
    if settings.env == "test":
        log.info("migrate.auto_ignored", reason="test environment migrates its own database")
        return False
    started = time.perf_counter()
    try:
        await asyncio.to_thread(
            migrations.upgrade, url, "head", lambda line: log.info("migrate.revision", result=line)
        )
    except Exception as exc:
        # One short line: SQLAlchemy appends the whole failing statement to its message.
        reason = (str(exc).splitlines() or [""])[0]
        log.error("startup.failed", resource="migrations", error=f"{type(exc).__name__}: {reason}"[:300])
        raise StartupFailed("migrations", type(exc).__name__) from exc
    log.info("migrate.auto_applied", duration_ms=round((time.perf_counter() - started) * 1000, 2))
    return True
