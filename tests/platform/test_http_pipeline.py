"""The HTTP pipeline: error envelope for every kind of failure, request ids, access log lines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from packfinderz.config import Settings
from tests.fixtures.apps import serve
from tests.fixtures.logs import LogCapture

SECRET_DETAIL = "password=hunter2 at /srv/packfinderz/internal.py"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    qty: int


router = APIRouter(prefix="/_test")


@router.post("/items")
async def create_item(item: Item) -> dict[str, Any]:
    return {"data": item.model_dump()}


@router.get("/ok")
async def ok() -> dict[str, Any]:
    return {"data": {"ok": True}}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError(SECRET_DETAIL)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings, router) as client:
        yield client


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


# --- error envelope ----------------------------------------------------------------------------------


async def test_unknown_route_is_404_in_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json() == envelope("NOT_FOUND", "not found")


async def test_wrong_method_is_405_in_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.delete("/health/live")
    assert response.status_code == 405
    assert response.json() == envelope("METHOD_NOT_ALLOWED", "method not allowed")
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (b'{"name": "a", ', {"body": "malformed JSON"}),
        (b'{"name": "a", "qty": 1, "colour": "red"}', {"colour": "is not allowed"}),
        (
            b'{"name": "a", "qty": "many"}',
            {"qty": "Input should be a valid integer, unable to parse string as an integer"},
        ),
        (b'{"qty": 1}', {"name": "is required"}),
        (b'{"name": ["a"]}', {"name": "Input should be a valid string", "qty": "is required"}),
        (b"", {"body": "is required"}),
    ],
)
async def test_request_validation_is_400_with_a_field_map(
    http: httpx.AsyncClient, body: bytes, details: dict[str, str]
) -> None:
    response = await http.post("/_test/items", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == envelope("VALIDATION_ERROR", "validation failed", details)


async def test_valid_request_passes(http: httpx.AsyncClient) -> None:
    response = await http.post("/_test/items", json={"name": "a", "qty": 2})
    assert response.status_code == 200
    assert response.json() == {"data": {"name": "a", "qty": 2}}


async def test_unexpected_exception_is_500_without_internals_and_logged_with_stack(
    http: httpx.AsyncClient, logs: LogCapture
) -> None:
    response = await http.get("/_test/boom", headers={"x-request-id": "boom-1"})
    assert response.status_code == 500
    assert response.json() == envelope("INTERNAL_ERROR", "internal server error")
    for internal in ("RuntimeError", "hunter2", "internal.py", "Traceback"):
        assert internal not in response.text
    assert response.headers["x-request-id"] == "boom-1"

    [line] = logs.events("request.unhandled_exception")
    assert line["level"] == "error"
    assert (line["method"], line["path"], line["request_id"]) == ("GET", "/_test/boom", "boom-1")
    [exception] = line["exception"]
    assert exception["exc_type"] == "RuntimeError"
    assert any(frame["name"] == "boom" for frame in exception["frames"])
    assert "hunter2" not in logs.text  # the redaction processor also scrubs exception messages
    [complete] = logs.events("request.complete")
    assert complete["status"] == 500


# --- request id ----------------------------------------------------------------------------------------


async def test_valid_inbound_request_id_is_echoed(http: httpx.AsyncClient) -> None:
    given = "Client-Req_42.a"
    response = await http.get("/health/live", headers={"X-Request-Id": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["has space", "semi;colon", "x" * 129, "ünicode"])
async def test_invalid_inbound_request_id_is_replaced_by_a_uuid(http: httpx.AsyncClient, given: str) -> None:
    response = await http.get("/health/live", headers=[(b"x-request-id", given.encode())])
    returned = response.headers["x-request-id"]
    assert returned != given
    assert uuid.UUID(returned).version == 4


async def test_missing_request_id_is_minted_per_request(http: httpx.AsyncClient) -> None:
    first = (await http.get("/health/live")).headers["x-request-id"]
    second = (await http.get("/health/live")).headers["x-request-id"]
    assert uuid.UUID(first).version == uuid.UUID(second).version == 4
    assert first != second


async def test_errors_carry_the_request_id_too(http: httpx.AsyncClient) -> None:
    response = await http.get("/nope", headers={"X-Request-Id": "err-7"})
    assert response.headers["x-request-id"] == "err-7"
    assert response.headers["x-packfinderz-env"] == "test"


async def test_access_log_lines(http: httpx.AsyncClient, logs: LogCapture) -> None:
    await http.get("/_test/ok?page=2", headers={"X-Request-Id": "log-1", "X-Forwarded-For": "203.0.113.9"})
    [start] = logs.events("request.start")
    assert start["level"] == "debug"  # the one access line at info is request.complete (platform.md §6)
    assert (start["method"], start["path"], start["request_id"]) == ("GET", "/_test/ok", "log-1")
    [complete] = logs.events("request.complete")
    assert complete["level"] == "info"
    assert complete["method"] == "GET"
    assert complete["path"] == "/_test/ok"
    assert complete["route"] == "/_test/ok"
    assert complete["status"] == 200
    assert complete["request_id"] == "log-1"
    assert complete["client_ip"] == "203.0.113.9"
    assert isinstance(complete["duration_ms"], float)
    assert complete["duration_ms"] >= 0


async def test_access_log_uses_the_route_template_and_logs_health_at_debug(
    http: httpx.AsyncClient, logs: LogCapture
) -> None:
    await http.get("/nope/123")
    await http.get("/health/live")
    complete = logs.events("request.complete")
    assert [(c["path"], c["route"], c["status"], c["level"]) for c in complete] == [
        ("/nope/123", "unknown", 404, "info"),
        ("/health/live", "/health/live", 200, "debug"),
    ]
