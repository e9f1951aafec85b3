"""Identity test fixtures: apps built with custom settings, and probe routes for guards and idempotency."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select

from packfinderz.app import create_app
from packfinderz.kit.db import Database
from packfinderz.models import AuditLog, Store, StoreMembership, User
from tests.fixtures.probes import calls, probe_router
from tests.fixtures.servers import TestServers, make_settings


class ClientFactory(Protocol):
    def __call__(
        self, *, routers: tuple[APIRouter, ...] = ..., **overrides: Any
    ) -> Awaitable[tuple[httpx.AsyncClient, FastAPI]]: ...


@pytest.fixture
async def make_client(clean: TestServers) -> AsyncIterator[ClientFactory]:
    """Build apps (lifespan running) with settings overrides and extra routers; closed after the test."""
    stack = AsyncExitStack()

    async def factory(
        *, routers: tuple[APIRouter, ...] = (), **overrides: Any
    ) -> tuple[httpx.AsyncClient, FastAPI]:
        application = create_app(make_settings(clean, **overrides))
        for router in routers:
            application.include_router(router)
        await stack.enter_async_context(application.router.lifespan_context(application))
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        http = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://test"))
        return http, application

    calls.clear()
    yield factory
    await stack.aclose()


@pytest.fixture
async def probe_client(make_client: ClientFactory) -> httpx.AsyncClient:
    """A client whose app also serves the probe routes under /test/probe."""
    http, _ = await make_client(routers=(probe_router,))
    return http


Counter = Callable[[], Awaitable[dict[str, int]]]


@pytest.fixture
def row_counts(db: Database) -> Counter:
    """A function returning the row counts of the identity tables (to prove refusals changed nothing)."""

    async def count() -> dict[str, int]:
        async with db.transaction() as session:
            return {
                model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (User, Store, StoreMembership, AuditLog)
            }

    return count
