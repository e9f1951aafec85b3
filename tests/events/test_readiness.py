"""The `events` readiness check of /health/ready for both transports."""

from __future__ import annotations

from pydantic import SecretStr

from packfinderz.config import Settings
from packfinderz.events.registry import TOPICS
from packfinderz.kit.transport import create_transport
from tests.fixtures.apps import serve
from tests.fixtures.events import pubsub_settings
from tests.fixtures.pubsub import PubSubEmulator


async def test_ready_reports_the_redis_transport(settings: Settings) -> None:
    async with serve(settings) as http:
        response = await http.get("/health/ready")
    assert response.status_code == 200, response.text
    events = response.json()["data"]["checks"]["events"]
    assert events["status"] == "ok"
    assert events["adapter"] == "redis"
    assert isinstance(events["latency_ms"], float)


async def test_ready_fails_when_the_events_redis_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"events_redis_url": SecretStr("redis://127.0.0.1:1/0")})
    async with serve(broken) as http:
        response = await http.get("/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["details"]["dependency"] == "events"
    assert error["details"]["checks"]["events"]["status"] == "fail"
    assert error["details"]["checks"]["redis"]["status"] == "ok"


async def test_ready_checks_every_pubsub_topic(settings: Settings, pubsub_emulator: PubSubEmulator) -> None:
    strict = pubsub_settings(settings, pubsub_emulator, pubsub_auto_create=False)
    async with serve(strict) as http:
        missing = await http.get("/health/ready")
    assert missing.status_code == 503
    check = missing.json()["error"]["details"]["checks"]["events"]
    assert check["status"] == "fail"
    assert "topic missing" in check["error"]

    # what a worker in dev (or an operator in prod) does: create the topics
    creator = create_transport(strict.model_copy(update={"pubsub_auto_create": True}), topics=TOPICS)
    await creator.setup(TOPICS, [])
    await creator.close()
    async with serve(strict) as http:
        ready = await http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["data"]["checks"]["events"] == {
        "status": "ok",
        "adapter": "pubsub",
        "latency_ms": ready.json()["data"]["checks"]["events"]["latency_ms"],
    }
