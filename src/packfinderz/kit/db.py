"""Database engine, session factory and the request session dependency (the one transaction owner)."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from packfinderz.config import Settings

# A pooled connection back from use less than this long ago is handed out without a ping (see
# `_ping_when_idle`). Shorter than any Postgres restart or failover (stop + start takes seconds).
PING_IDLE_SECONDS = 1.0
_RETURNED_AT = "packfinderz_returned_at"


@dataclass
class Database:
    """An engine and its session factory."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on any exception."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise


def create_engine(url: str, settings: Settings, *, statement_timeout: bool = True) -> AsyncEngine:
    """An asyncpg engine with the configured pool; app sessions get the configured statement_timeout."""
    server_settings = {"application_name": f"packfinderz-{settings.instance}"[:63]}
    if statement_timeout:
        server_settings["statement_timeout"] = str(int(settings.db_statement_timeout * 1000))
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"server_settings": server_settings, "timeout": 5, **_tls(settings)},
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for PING_IDLE_SECONDS or more.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip and ~8 % of the api's CPU per
    request under load (docs/CATALOG.md, issue #21). A busy connection proves itself by being used: a
    server restart or failover takes longer than PING_IDLE_SECONDS, so every connection that was
    pooled across one is pinged, fails and, like with pre-ping, the whole pool is replaced
    (InvalidatePoolError) before the request runs. A connection that dies while in use raises a
    disconnect error, which SQLAlchemy also turns into a pool invalidation (the request answers 503).
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_IDLE_SECONDS:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise InvalidatePoolError(f"ping of an idle connection failed: {error!r}") from error


def _tls(settings: Settings) -> dict[str, Any]:
    """With DB_SSLROOTCERT, verify the server's certificate and host name against that CA (verify-full)."""
    if not settings.db_sslrootcert:
        return {}
    context = ssl.create_default_context(cafile=settings.db_sslrootcert)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return {"ssl": context}


def create_database(settings: Settings, url: str | None = None) -> Database:
    """Engine + session factory for the configured database."""
    dsn = url or settings.database_url
    if dsn is None:
        raise RuntimeError("no database configured")
    engine = create_engine(dsn, settings)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False, autoflush=False))


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    async with database.transaction() as session:
        yield session


# scope="function": commit (or roll back) before the response is sent, so a 2xx means committed.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]


def like_pattern(text: str) -> str:
    """`%text%` with LIKE wildcards escaped (used with ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
