"""`packfinderz worker` as a real process: heartbeat, SIGTERM, dependency retries, schema gate, HTTP."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.kit import migrations
from tests.fixtures.processes import Process, child_env, free_port, run

if TYPE_CHECKING:
    from tests.fixtures.servers import TestServers

Spawn = Callable[..., Process]


def worker_env(settings: Settings, db_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of a worker on this test's database and Redis, beating every second."""
    assert settings.redis_url is not None
    assert settings.db_dsn is not None
    return child_env(
        PACKFINDERZ_APP_ENV="test",
        PACKFINDERZ_DB_DSN=db_url or settings.db_dsn.get_secret_value(),
        PACKFINDERZ_REDIS_URL=settings.redis_url.get_secret_value(),
        PACKFINDERZ_WORKER_HEARTBEAT_SECONDS="1",
        DYNO=f"plat-worker-{uuid.uuid4().hex[:8]}",
        **extra,
    )


async def test_heartbeat_then_clean_exit_on_sigterm(settings: Settings, redis: Redis, spawn: Spawn) -> None:
    await redis.set("pf:heartbeat:worker:another-instance", "{}", ex=300)
    await redis.set("plat:unrelated", "kept")
    env = worker_env(settings)
    instance = env["DYNO"]
    worker = spawn(["worker"], env)

    [ready] = await worker.wait_for_event("worker.ready")
    assert (ready["instance"], ready["env"]) == (instance, "test")
    first, second = (await worker.wait_for_event("worker.heartbeat", count=2))[:2]
    for beat in (first, second):
        assert beat["level"] == "info"
        assert beat["instance"] == instance
        assert beat["roles"] == ["consumers", "relay", "cron"]
        assert isinstance(beat["counters"], dict)
        assert beat["last_error"] is None
    assert 0 <= first["uptime_seconds"] <= second["uptime_seconds"]

    key = f"pf:heartbeat:worker:{instance}"
    stored = json.loads(await redis.get(key) or "{}")
    assert stored["instance"] == instance
    assert "uptime_seconds" in stored
    assert 0 < await redis.ttl(key) <= 3  # three heartbeat intervals

    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=10) == 0
    [requested] = worker.events("worker.shutdown_requested")
    assert requested["signal"] == "SIGTERM"
    assert len(worker.events("worker.stopped")) == 1
    assert "Traceback" not in worker.output()
    # it cleared its own heartbeat and nothing else
    assert await redis.get(key) is None
    assert await redis.get("plat:unrelated") == "kept"
    assert await redis.exists("pf:heartbeat:worker:another-instance") == 1


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["worker", "--roles", "consumers,bogus"], {}),
        (["worker"], {"PACKFINDERZ_WORKER_ROLES": "relay,nope"}),
    ],
)
def test_unknown_role_exits_1(settings: Settings, args: list[str], extra: dict[str, str]) -> None:
    result = run(args, worker_env(settings, **extra))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    [invalid] = [line for line in lines if line["event"] == "startup.config_invalid"]
    assert invalid["variables"] == ["PACKFINDERZ_WORKER_ROLES"]
    assert "unknown worker role" in invalid["problems"][0]
    assert not [line for line in lines if line["event"] in ("worker.ready", "worker.heartbeat")]


async def test_unreachable_postgres_is_retried_until_sigterm_with_liveness_served(
    settings: Settings, spawn: Spawn
) -> None:
    port = free_port()
    env = worker_env(
        settings,
        db_url="postgresql://postgres@127.0.0.1:1/nowhere",
        PACKFINDERZ_WORKER_METRICS_PORT=str(port),
    )
    worker = spawn(["worker"], env)
    failures = await worker.wait_for_event(
        "worker.dependency_unavailable", count=2, where=lambda e: e["resource"] == "postgres"
    )
    assert [f["retry_in_seconds"] for f in failures[:2]] == [1.0, 2.0]  # backoff doubles
    assert all(f["level"] == "error" for f in failures)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        live = await http.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"data": {"status": "live"}}

    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=10) == 0
    assert worker.events("worker.ready") == []
    assert worker.events("worker.heartbeat") == []
    assert "Traceback" not in worker.output()


async def test_schema_gate_holds_roles_while_the_database_is_behind_head(
    settings: Settings, scratch_db: str, spawn: Spawn, redis: Redis
) -> None:
    env = worker_env(settings, db_url=scratch_db)
    worker = spawn(["worker"], env)
    [pending] = await worker.wait_for_event("worker.schema_pending")
    assert pending["level"] == "error"
    assert pending["revision"] is None
    assert pending["head"] == migrations.head_revision()
    assert pending["pending"] == len(migrations.revision_chain())
    assert worker.events("worker.ready") == []
    assert await redis.exists(f"pf:heartbeat:worker:{env['DYNO']}") == 0
    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=10) == 0
    assert worker.events("worker.heartbeat") == []


async def test_metrics_port_serves_liveness_and_metrics(settings: Settings, spawn: Spawn) -> None:
    port = free_port()
    token = "plat-metrics-token-5b1e"
    worker = spawn(
        ["worker"],
        worker_env(settings, PACKFINDERZ_WORKER_METRICS_PORT=str(port), PACKFINDERZ_METRICS_TOKEN=token),
    )
    await worker.wait_for_event("worker.heartbeat")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        live = await http.get("/health/live")
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        ready = await http.get("/health/ready")
    assert live.status_code == 200
    assert live.json() == {"data": {"status": "live"}}
    assert live.headers["x-packfinderz-env"] == "test"
    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    [sample] = [
        line for line in scraped.text.splitlines() if line.startswith("packfinderz_worker_heartbeats_total ")
    ]
    assert float(sample.split()[1]) >= 1
    assert ready.status_code == 404  # readiness is the api's; the worker serves liveness and metrics only
    assert token not in worker.output()

    worker.signal(signal.SIGTERM)
    assert await worker.wait_exit(timeout=10) == 0
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/health/live")


def test_metrics_port_already_taken_fails_startup(settings: Settings, servers: TestServers) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["worker"], worker_env(settings, PACKFINDERZ_WORKER_METRICS_PORT=str(port)))
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    [failed] = [line for line in lines if line["event"] == "startup.failed"]
    assert failed["resource"] == "worker_http"
    assert "Traceback" not in result.stdout + result.stderr
