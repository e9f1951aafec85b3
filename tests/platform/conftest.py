"""Platform test fixtures: captured JSON logs, scratch databases and child processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.fixtures.processes import PACKFINDERZ, ROOT, Process
from tests.fixtures.servers import TestServers, _with_database


async def _admin(servers: TestServers, statement: str) -> None:
    engine = create_async_engine(servers.admin_db_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch_db(servers: TestServers) -> AsyncIterator[str]:
    """URL of a new, empty database on the test server (no migrations applied), dropped afterwards."""
    name = f"pf_scratch_{servers.worker}_{uuid.uuid4().hex[:8]}"
    await _admin(servers, f'CREATE DATABASE "{name}"')
    yield _with_database(servers.db_url, name)
    await _admin(servers, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def spawn() -> Iterator[Callable[..., Process]]:
    """Start `packfinderz` child processes; any still running at the end of the test is killed."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str], cwd: Path = ROOT, program: str = PACKFINDERZ) -> Process:
        process = Process(args, env, cwd, program)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
