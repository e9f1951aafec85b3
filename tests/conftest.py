"""Root fixtures: a migrated database and a clean Redis per test, the app and an HTTP client."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database, create_database
from packfinderz.kit.logging import configure_logging
from packfinderz.kit.redis import create_redis
from tests.fixtures.logs import LogCapture
from tests.fixtures.pubsub import KEPT_REQUIRE_VARIABLE, REQUIRE_VARIABLE, skipped_line
from tests.fixtures.servers import (
    REDIS_CLAIM_KEY,
    REDIS_CLAIM_SECONDS,
    TestServers,
    make_settings,
    release_redis_database,
    start_servers,
)

# CI's demand for the Pub/Sub emulator survives the clean-up below under a test-only name.
if REQUIRE_VARIABLE in os.environ:
    os.environ[KEPT_REQUIRE_VARIABLE] = os.environ[REQUIRE_VARIABLE]
# Tests never read the developer's own configuration.
for _name in list(os.environ):
    if (_name.startswith("PACKFINDERZ_") and not _name.startswith("PACKFINDERZ_TEST_")) or _name in (
        "DATABASE_URL",
        "REDIS_URL",
        "PORT",
        "WEB_CONCURRENCY",
        "DYNO",
    ):
        del os.environ[_name]
os.environ["PACKFINDERZ_APP_ENV"] = "test"
configure_logging(service="test", env="test", instance="test", level="warning")


@pytest.fixture(scope="session")
def servers() -> Iterator[TestServers]:
    """This xdist worker's migrated database and Redis."""
    found = start_servers()
    yield found
    if found.redis_claim is not None:
        release_redis_database(found.redis_url, found.redis_claim)
    for server in found.stop:
        server.stop()


@pytest.fixture
async def clean(servers: TestServers) -> TestServers:
    """Empty every table (but alembic_version) and the worker's Redis database before the test."""
    database = create_database(make_settings(servers))
    try:
        async with database.transaction() as session:
            if servers.tables:
                await session.execute(text(f"TRUNCATE {', '.join(servers.tables)} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()
    redis = Redis.from_url(servers.redis_url)
    try:
        if servers.redis_claim is None:
            await redis.flushdb()
        else:  # a shared Redis: flush and renew our claim in one transaction, so no other run slips in
            async with redis.pipeline(transaction=True) as flush:
                flush.flushdb()
                flush.set(REDIS_CLAIM_KEY, servers.redis_claim, ex=REDIS_CLAIM_SECONDS)
                await flush.execute()
    finally:
        await redis.aclose()
    return servers


@pytest.fixture
def settings(clean: TestServers) -> Settings:
    return make_settings(clean)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A Database for direct reads and writes in tests (separate from the app's pool)."""
    database = create_database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The app's settings: the test settings with a storage folder of this test's own."""
    return settings.model_copy(update={"storage_local_dir": str(tmp_path / "storage")})


@pytest.fixture
async def app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running."""
    application = create_app(app_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogCapture]:
    """Route every log line (structlog and stdlib, debug and up) into a buffer for the test."""
    buffer = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", buffer)
        configure_logging(service="test", env="test", instance="test", level="debug")
    yield LogCapture(buffer)
    configure_logging(service="test", env="test", instance="test", level="warning")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One loud line when Pub/Sub transport tests skipped (no emulator), so a green run says so."""
    reasons = [str(report.longrepr) for report in terminalreporter.stats.get("skipped", [])]
    line = skipped_line(reasons)
    if line is not None:
        terminalreporter.write_line(line, yellow=True, bold=True)
