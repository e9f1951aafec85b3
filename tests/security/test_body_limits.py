"""Item 6 (issue #17): bounded request bodies and JSON nesting.

Before the fix an unauthenticated 50 MB login body was read and parsed in full.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.hardening import JsonDepthScanner, _TooDeep

LOGIN = "/api/v1/auth/login"
MIB = 1024 * 1024


async def test_the_default_cap_is_one_mebibyte(client: httpx.AsyncClient, app_settings: Settings) -> None:
    assert app_settings.max_request_body_bytes == MIB
    padding = "x" * (MIB + 1)
    response = await client.post(
        LOGIN,
        content=json.dumps({"email": padding, "password": "p"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    small = await client.post(LOGIN, json={"email": "nobody@example.com", "password": "wrong password"})
    assert small.status_code == 401


class CountingBody:
    """An ASGI receive that streams `total` bytes in chunks and counts what the app pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.sent, self.calls = total, chunk, 0, 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.sent >= self.total:
            return {"type": "http.disconnect"}
        size = min(self.chunk, self.total - self.sent)
        self.sent += size
        return {"type": "http.request", "body": b" " * size, "more_body": self.sent < self.total}


async def _call(app: FastAPI, receive: CountingBody, headers: list[tuple[bytes, bytes]]) -> int:
    status: dict[str, int] = {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": LOGIN,
        "raw_path": LOGIN.encode(),
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status["code"]


@pytest.fixture
async def small_cap_app(app_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(app_settings.model_copy(update={"max_request_body_bytes": 4096}))
    async with application.router.lifespan_context(application):
        yield application


async def test_413_before_reading_past_the_cap(small_cap_app: FastAPI) -> None:
    fifty_mb = 50 * MIB
    declared = CountingBody(fifty_mb)
    assert await _call(small_cap_app, declared, [(b"content-length", str(fifty_mb).encode())]) == 413
    assert declared.sent == 0  # refused on the declared length: not one byte read
    chunked = CountingBody(fifty_mb, chunk=1024)
    assert await _call(small_cap_app, chunked, []) == 413
    assert chunked.sent <= 4096 + 1024  # reading stopped at the first chunk over the cap


async def test_the_cap_is_configurable(small_cap_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=small_cap_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        big = await http.post(LOGIN, json={"email": "a@example.com", "password": "p" * 5000})
        assert big.status_code == 413
        fits = await http.post(LOGIN, json={"email": "a@example.com", "password": "p" * 100})
        assert fits.status_code == 401


async def test_deep_json_is_refused_before_parsing(client: httpx.AsyncClient, app_settings: Settings) -> None:
    depth = app_settings.max_json_depth
    deep = "[" * (depth + 1) + "]" * (depth + 1)
    response = await client.post(LOGIN, content=deep.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"body": f"JSON nested deeper than {depth} levels"}
    ok = "[" * depth + "]" * depth
    response = await client.post(LOGIN, content=ok.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400  # a list is not a login body, but it was parsed
    assert "nested" not in response.text


def test_the_depth_scanner_reads_strings_and_escapes_across_chunks() -> None:
    scanner = JsonDepthScanner(2)
    scanner.feed(b'{"a": "[[[[\\')
    scanner.feed(b'"[[[[", "b": [1]}')
    assert scanner.depth == 0
    with pytest.raises(_TooDeep):
        JsonDepthScanner(2).feed(b'{"a": [{"b": 1}]}')
