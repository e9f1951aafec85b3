"""Alembic environment: async engine on asyncpg, one transaction per revision, advisory lock held."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from packfinderz.kit.migrations import ADVISORY_LOCK_KEY, LOCK_WAIT_SECONDS
from packfinderz.models import Base

config = context.config


def _configure_and_run(connection: Connection) -> None:
    # Serialise concurrent migrators (deploys, dev auto-migrate): wait at most LOCK_WAIT_SECONDS.
    connection.execute(text(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.execute(text("SET lock_timeout = 0"))
    connection.commit()
    try:
        options: dict[str, Any] = {
            "connection": connection,
            "target_metadata": Base.metadata,
            "transaction_per_migration": True,
            "compare_type": True,
        }
        callback = config.attributes.get("on_version_apply")
        if callback is not None:
            options["on_version_apply"] = callback
        context.configure(**options)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


async def _run_async() -> None:
    engine = create_async_engine(config.attributes["url"], poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not offered
    raise SystemExit("offline migrations are not supported")
asyncio.run(_run_async())
