"""GET /health/live and /health/ready against real Postgres and Redis."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit import migrations
from packfinderz.kit.db import Database


async def test_live_answers_with_env_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "live"}}
    assert response.headers["x-packfinderz-env"] == "test"


async def test_ready_with_everything_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert body["status"] == "ready"
    postgres = body["checks"]["postgres"]
    assert postgres["status"] == "ok"
    assert postgres["migrations"] == "at_head"
    assert postgres["revision"] == postgres["head"] == migrations.head_revision()
    assert isinstance(postgres["latency_ms"], float)
    assert body["checks"]["redis"]["status"] == "ok"
    assert response.headers["x-packfinderz-env"] == "test"


async def test_ready_503_when_redis_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": None, "redis_addr": "127.0.0.1:1"})
    broken.__dict__.pop("redis_connection_url", None)
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await http.get("/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "DEPENDENCY_ERROR"
    assert error["message"] == "dependency unavailable"
    # the events transport defaults to the same Redis, so its check fails with it
    assert error["details"]["dependency"] == "redis,events"
    assert error["details"]["checks"]["events"]["status"] == "fail"
    assert error["details"]["status"] == "not_ready"
    assert error["details"]["checks"]["redis"]["status"] == "fail"
    assert error["details"]["checks"]["postgres"]["status"] == "ok"
    assert "redis://" not in response.text


async def test_ready_503_with_pending_migrations(settings: Settings, db: Database) -> None:
    head = migrations.head_revision()
    async with db.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '19990101000000'"))
    try:
        # an unknown revision reads as "ahead" (ok + warning); delete it to read as "pending"
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM alembic_version"))
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                response = await http.get("/health/ready")
        assert response.status_code == 503
        checks = response.json()["error"]["details"]["checks"]
        assert checks["postgres"]["status"] == "fail"
        assert checks["postgres"]["migrations"] == "pending"
        assert "pending migration" in checks["postgres"]["error"]
        assert response.json()["error"]["details"]["dependency"] == "postgres"
    finally:
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM alembic_version"))
            await session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})


async def test_ready_checks_run_concurrently_with_timeouts(app: object, client: httpx.AsyncClient) -> None:
    from packfinderz.health.checks import Check

    async def hang() -> None:
        await asyncio.sleep(30)

    readiness = app.state.readiness  # type: ignore[attr-defined]
    readiness.add(Check("slow", hang, timeout=0.2))
    readiness.add(Check("slow2", hang, timeout=0.2))
    response = await client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["error"]["details"]["checks"]
    assert checks["slow"]["error"] == "timed out after 0.2s"
    assert checks["slow2"]["status"] == "fail"
    # both hung probes were awaited side by side: neither waited for the other
    assert checks["slow"]["latency_ms"] < 1000
    assert checks["slow2"]["latency_ms"] < 1000
    assert response.json()["error"]["details"]["dependency"] == "slow,slow2"
