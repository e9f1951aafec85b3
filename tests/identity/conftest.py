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
from packfinderz.auth.deps import AdminUser, AgentUser, BuyerStore, CurrentUser, VendorStore
from packfinderz.kit.db import Database, DbSession
from packfinderz.kit.errors import Conflict
from packfinderz.kit.idempotency import idempotent
from packfinderz.models import AuditLog, Store, StoreMembership, User
from tests.conftest import make_settings
from tests.fixtures.servers import TestServers

probe_router = APIRouter(prefix="/test/probe")
calls: dict[str, int] = {}


@probe_router.get("/vendor")
async def vendor_only(ctx: VendorStore) -> dict[str, Any]:
    return {"data": {"store_id": str(ctx.store_id)}}


@probe_router.get("/buyer")
async def buyer_only(ctx: BuyerStore) -> dict[str, Any]:
    return {"data": {"store_id": str(ctx.store_id)}}


@probe_router.get("/agent")
async def agent_only(user: AgentUser) -> dict[str, Any]:
    return {"data": {"user_id": str(user.user_id)}}


@probe_router.get("/admin")
async def admin_only(user: AdminUser) -> dict[str, Any]:
    return {"data": {"user_id": str(user.user_id)}}


@probe_router.get("/user")
async def any_user(user: CurrentUser) -> dict[str, Any]:
    return {"data": {"user_id": str(user.user_id), "store_id": str(user.store_id) if user.store_id else None}}


@probe_router.post("/crash")
@idempotent()
async def crash(user: CurrentUser) -> dict[str, Any]:
    """Fails with an unexpected exception the first time, succeeds afterwards (5xx is never stored)."""
    calls["crash"] = calls.get("crash", 0) + 1
    if calls["crash"] == 1:
        raise RuntimeError("boom")
    return {"data": {"calls": calls["crash"]}}


@probe_router.post("/conflict", status_code=201)
@idempotent("critical")
async def conflict(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Always refuses with a handled 4xx error (stored and replayed like a success)."""
    calls["conflict"] = calls.get("conflict", 0) + 1
    raise Conflict("probe conflict")


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
