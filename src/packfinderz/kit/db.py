"""Database engine, session factory and the request session dependency (the one transaction owner)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from packfinderz.config import Settings


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
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings, "timeout": 5, **_tls(settings)},
    )


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
