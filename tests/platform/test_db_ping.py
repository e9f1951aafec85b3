"""The pool pings a connection at checkout only when it sat idle (kit/db.py, issue #21): a connection
that died while pooled and idle is replaced before the request runs; a busy one is not pinged, and the
one request that meets a dead busy connection replaces the whole pool for the next."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from packfinderz.config import Settings
from packfinderz.kit import db as kit_db
from packfinderz.kit.db import Database, create_database


async def _backend_pid(database: Database) -> int:
    async with database.transaction() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(settings: Settings, pid: int) -> None:
    """Kill one server process from another engine (as a restart would); its connection stays pooled."""
    other = create_database(settings)
    try:
        async with other.transaction() as session:
            killed = (
                await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            ).scalar_one()
    finally:
        await other.dispose()
    assert killed is True


async def test_an_idle_connection_killed_in_the_pool_is_replaced_before_the_request(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kit_db, "PING_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    before = await _backend_pid(db)
    await _terminate(settings, before)

    after = await _backend_pid(db)  # no error: the ping found the dead connection

    assert after != before


async def test_a_busy_connection_is_not_pinged_and_one_failure_replaces_the_pool(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kit_db, "PING_IDLE_SECONDS", 3600.0)  # every pooled connection counts as busy
    before = await _backend_pid(db)
    await _terminate(settings, before)

    with pytest.raises(DBAPIError) as failure:  # not pinged: the statement meets the dead connection
        await _backend_pid(db)
    assert failure.value.connection_invalidated

    after = await _backend_pid(db)  # the pool was replaced: the next request is served
    assert after != before
