"""HTTP semantics the router does not give on its own (issue #18 point 4): 405 + Allow, 415."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from packfinderz.kit.db import Database
from packfinderz.models.identity import User
from tests.fixtures.factories import register_body, register_buyer


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        # GET and POST both exist on the cart: Allow names both, not the first route tried
        ("OPTIONS", "/api/v1/cart", "GET, POST"),
        ("PUT", "/api/v1/cart", "GET, POST"),
        # a fixed path next to an `{id}` route: 405 for the fixed path, not a 400 parsing it as an id
        ("DELETE", "/api/v1/stores/me/users/invite", "POST"),
        ("GET", "/api/v1/media/presign", "POST"),
        ("DELETE", "/health/live", "GET"),
    ],
)
async def test_unlisted_method_is_405_with_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    buyer = await register_buyer(client)
    response = await client.request(method, path, headers=buyer.headers)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.json() == {
        "error": {"code": "METHOD_NOT_ALLOWED", "message": "method not allowed", "details": None}
    }
    assert response.headers["x-request-id"]


async def test_listed_methods_still_reach_their_routes(client: httpx.AsyncClient) -> None:
    buyer = await register_buyer(client)
    # GET /cart reaches its route: the guard answers (an unverified buyer), not the method check
    cart = await client.get("/api/v1/cart", headers=buyer.headers)
    assert cart.status_code == 403
    assert cart.json()["error"]["code"] == "FORBIDDEN"
    assert (await client.get("/api/v1/stores/me", headers=buyer.headers)).status_code == 200
    # the `{user_id}` route still answers for a real id
    missing = await client.delete(
        "/api/v1/stores/me/users/00000000-0000-4000-8000-000000000000", headers=buyer.headers
    )
    assert missing.status_code == 404
    assert (await client.get("/api/v1/nowhere")).status_code == 404


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_json_body_with_another_content_type_is_415(
    client: httpx.AsyncClient, db: Database, content_type: str | None
) -> None:
    body = json.dumps(register_body()).encode()
    headers = {"Idempotency-Key": "k-415"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post("/api/v1/auth/register", content=body, headers=headers)
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in error["message"]
    assert error["details"] == {"Content-Type": f"must be application/json (got {content_type or 'none'})"}
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_json_and_json_suffixed_types_are_accepted(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = json.dumps(register_body()).encode()
        response = await client.post(
            "/api/v1/auth/register",
            content=body,
            headers={"Content-Type": content_type, "Idempotency-Key": content_type},
        )
        assert response.status_code == 201, response.text


async def test_missing_body_is_still_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
