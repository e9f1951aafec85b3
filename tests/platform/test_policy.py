"""The hybrid migration policy (platform.md §4.3) at api startup, against empty scratch databases."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from packfinderz.kit import migrations
from packfinderz.kit.boot import StartupFailed
from tests.fixtures.apps import serve
from tests.fixtures.logs import LogCapture
from tests.fixtures.servers import make_settings

if TYPE_CHECKING:
    from tests.fixtures.servers import TestServers


async def tables(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            )
            return [str(row[0]) for row in rows]
    finally:
        await engine.dispose()


def without_tls(url: str) -> str:
    """Prod adds ssl=require to URLs without an ssl setting; the test server speaks plain TCP/sockets."""
    return url + ("&" if "?" in url else "?") + "ssl=disable"


async def test_dev_with_auto_migrate_migrates_an_empty_database_before_serving(
    servers: TestServers, scratch_db: str, logs: LogCapture
) -> None:
    settings = make_settings(servers, app_env="dev", auto_migrate=True, db_dsn=scratch_db)
    async with serve(settings) as http:
        ready = await http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["data"]["checks"]["postgres"]["migrations"] == "at_head"
    assert {"outbox_events", "outbox_dlq", "alembic_version"} <= set(await tables(scratch_db))
    events = [e["event"] for e in logs.events()]
    assert events.index("migrate.auto_applied") < events.index("api.ready")
    applied = [e["result"] for e in logs.events("migrate.revision")]
    assert applied == [f"applied {revision}" for revision in migrations.revision_chain()]


async def test_prod_ignores_auto_migrate_logs_an_error_and_still_starts(
    servers: TestServers, scratch_db: str, logs: LogCapture
) -> None:
    settings = make_settings(servers, app_env="prod", auto_migrate=True, db_dsn=without_tls(scratch_db))
    async with serve(settings) as http:
        live = await http.get("/health/live")
        ready = await http.get("/health/ready")
    assert await tables(scratch_db) == []
    [ignored] = logs.events("migrate.auto_disabled_in_prod")
    assert ignored["level"] == "error"
    assert logs.events("migrate.revision") == []
    assert len(logs.events("api.ready")) == 1
    assert live.status_code == 200
    assert live.json() == {"data": {"status": "live"}}
    assert live.headers["x-packfinderz-env"] == "prod"
    assert ready.status_code == 503
    error = ready.json()["error"]
    assert error["details"]["dependency"] == "postgres"
    assert error["details"]["checks"]["postgres"]["migrations"] == "pending"
    assert error["details"]["checks"]["redis"]["status"] == "ok"


async def test_test_env_ignores_auto_migrate(servers: TestServers, scratch_db: str, logs: LogCapture) -> None:
    settings = make_settings(servers, app_env="test", auto_migrate=True, db_dsn=scratch_db)
    async with serve(settings) as http:
        assert (await http.get("/health/live")).status_code == 200
    assert await tables(scratch_db) == []
    [ignored] = logs.events("migrate.auto_ignored")
    assert ignored["level"] == "info"
    assert logs.events("migrate.revision") == []


@pytest.mark.parametrize("env", ["dev", "prod", "test"])
async def test_flag_false_does_nothing(
    servers: TestServers, scratch_db: str, logs: LogCapture, env: str
) -> None:
    settings = make_settings(servers, app_env=env, auto_migrate=False, db_dsn=without_tls(scratch_db))
    async with serve(settings) as http:
        assert (await http.get("/health/live")).status_code == 200
    assert await tables(scratch_db) == []
    assert [e["event"] for e in logs.events() if e["event"].startswith("migrate.")] == []


async def test_failing_dev_migration_refuses_to_start(
    servers: TestServers, scratch_db: str, logs: LogCapture
) -> None:
    engine = create_async_engine(scratch_db)
    try:
        async with engine.begin() as connection:  # the first revision will collide with this table
            await connection.execute(text("CREATE TABLE outbox_events (id int)"))
    finally:
        await engine.dispose()
    settings = make_settings(servers, app_env="dev", auto_migrate=True, db_dsn=scratch_db)
    with pytest.raises(StartupFailed) as failed:
        async with serve(settings):
            pytest.fail("the app must not start")
    assert failed.value.resource == "migrations"
    [line] = logs.events("startup.failed")
    assert line["level"] == "error"
    assert line["resource"] == "migrations"
    assert line["error"].startswith("ProgrammingError: ")
    assert 'relation "outbox_events" already exists' in line["error"]
    assert "\n" not in line["error"]
    assert logs.events("api.ready") == []
    assert await tables(scratch_db) == ["outbox_events"]
