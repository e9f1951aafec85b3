"""An unreachable Postgres or Redis is answered 503 DEPENDENCY_ERROR with Retry-After, never 500 (issue #20).

The fault drill (bench/drill.py) restarts the real servers under load; these tests pin the answer of
one request while a dependency is away, through every layer it can fail in (a middleware, a
dependency, the service's own query).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.errors import DEPENDENCY_RETRY_AFTER_SECONDS
from tests.fixtures.factories import auth_headers, register_buyer

LOGIN = {"email": "nobody@example.com", "password": "not the password 1"}


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http


def assert_dependency_error(response: httpx.Response, dependency: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "DEPENDENCY_ERROR"
    assert error["message"] == "dependency unavailable"
    assert error["details"]["dependency"] == dependency
    assert response.headers["retry-after"] == str(DEPENDENCY_RETRY_AFTER_SECONDS)
    assert "://" not in response.text


async def test_postgres_unreachable_is_a_503_with_retry_after(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"db_dsn": SecretStr("postgresql://postgres@127.0.0.1:1/packfinderz"), "db_pool_timeout": 2.0}
    )
    broken.__dict__.pop("database_url", None)
    async with serving(broken) as http:
        response = await http.post("/api/v1/auth/login", json=LOGIN)
        assert_dependency_error(response, "postgres")
        # a request that needs no dependency is still served
        assert (await http.get("/health/live")).status_code == 200


async def test_redis_unreachable_is_a_503_with_retry_after(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    buyer = await register_buyer(client)  # while Redis is up: a live session
    broken = settings.model_copy(update={"redis_url": None, "redis_addr": "127.0.0.1:1"})
    broken.__dict__.pop("redis_connection_url", None)
    async with serving(broken) as http:
        # the session check of every authenticated route needs Redis
        response = await http.get("/api/v1/orders", headers=auth_headers(buyer.access_token))
        assert_dependency_error(response, "redis")
        bearer = {"Authorization": "Bearer not-a-token"}
        assert (await http.get("/api/v1/orders", headers=bearer)).status_code == 401


async def test_a_failure_that_is_not_an_outage_is_still_a_500(settings: Settings) -> None:
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", broken, methods=["GET"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "retry-after" not in response.headers
