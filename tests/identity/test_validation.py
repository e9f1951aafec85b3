"""Bad input on every identity endpoint: 400 VALIDATION_ERROR with field details, and nothing changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.factories import DEFAULT_ADDRESS, Account, idem, register_body, register_buyer

Counter = Any


def details(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("VALIDATION_ERROR", "validation failed")
    found: dict[str, str] = error["details"]
    return found


REGISTER_CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("unknown field", {"is_admin": True}, {"is_admin": "is not allowed"}),
    ("bad email", {"email": "not-an-email"}, {"email": ""}),
    ("email without domain dot", {"email": "a@b"}, {"email": ""}),
    ("short password", {"password": "short"}, {"password": "at least 12"}),
    ("guessable password", {"password": "password1234"}, {"password": "too easy to guess"}),
    ("overlong password", {"password": "x" * 257}, {"password": "at most 256"}),
    ("wrong type", {"accept_tos": "yes"}, {"accept_tos": ""}),
    ("tos refused", {"accept_tos": False}, {"accept_tos": "must be true"}),
    ("bad store type", {"store_type": "retailer"}, {"store_type": "must be one of:"}),
    ("blank name", {"first_name": "   "}, {"first_name": ""}),
    ("name wrong type", {"last_name": 42}, {"last_name": ""}),
    ("lat out of range", {"address": {**DEFAULT_ADDRESS, "lat": 91}}, {"address.lat": ""}),
    ("lng as string", {"address": {**DEFAULT_ADDRESS, "lng": "-97.5"}}, {"address.lng": ""}),
    ("bad state", {"address": {**DEFAULT_ADDRESS, "state": "Oklahoma"}}, {"address.state": ""}),
    ("blank city", {"address": {**DEFAULT_ADDRESS, "city": " "}}, {"address.city": ""}),
    (
        "unknown address field",
        {"address": {**DEFAULT_ADDRESS, "zip": "1"}},
        {"address.zip": "is not allowed"},
    ),
    ("address not an object", {"address": "somewhere"}, {"address": ""}),
]


@pytest.mark.parametrize(("name", "change", "expected"), REGISTER_CASES, ids=[c[0] for c in REGISTER_CASES])
async def test_register_bad_fields(
    client: httpx.AsyncClient,
    row_counts: Counter,
    name: str,
    change: dict[str, Any],
    expected: dict[str, str],
) -> None:
    before = await row_counts()
    response = await client.post("/api/v1/auth/register", json={**register_body(), **change}, headers=idem())
    found = details(response)
    for field, fragment in expected.items():
        assert field in found, (name, found)
        assert fragment in found[field], (name, found)
    assert await row_counts() == before


async def test_register_missing_fields(client: httpx.AsyncClient, row_counts: Counter) -> None:
    before = await row_counts()
    body = register_body()
    for field in ("first_name", "email", "password", "company_name", "store_type", "address", "accept_tos"):
        del body[field]
    del body["last_name"]
    found = details(await client.post("/api/v1/auth/register", json=body, headers=idem()))
    assert found == dict.fromkeys(
        (
            "first_name",
            "last_name",
            "email",
            "password",
            "company_name",
            "store_type",
            "address",
            "accept_tos",
        ),
        "is required",
    )
    nested = register_body(address={"line1": "1 Main"})
    found = details(await client.post("/api/v1/auth/register", json=nested, headers=idem()))
    assert {"address.city", "address.state", "address.postal_code", "address.lat", "address.lng"} <= set(
        found
    )
    assert await row_counts() == before


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"email": "a@b.com",}', b"[]", b'"a string"', b"null"],
)
async def test_malformed_or_non_object_json(
    client: httpx.AsyncClient, row_counts: Counter, raw: bytes
) -> None:
    before = await row_counts()
    for path in ("/api/v1/auth/register", "/api/v1/auth/login"):
        response = await client.post(
            path, content=raw, headers={"Content-Type": "application/json", **idem()}
        )
        assert response.status_code == 400, (path, raw, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await row_counts() == before


async def test_login_bad_input(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"email": "x@example.com"}, "password"),
        ({"password": "whatever1"}, "email"),
        ({"email": "nope", "password": "whatever1"}, "email"),
        ({"email": "x@example.com", "password": 12345678}, "password"),
        ({"email": "x@example.com", "password": "p" * 257}, "password"),
        ({"email": "x@example.com", "password": "whatever1", "remember": True}, "remember"),
    ]
    for body, field in cases:
        for path in ("/api/v1/auth/login", "/api/admin/v1/auth/login"):
            assert field in details(await client.post(path, json=body)), (path, body)


async def account_and_counts(
    client: httpx.AsyncClient, row_counts: Counter
) -> tuple[Account, dict[str, int]]:
    account = await register_buyer(client)
    return account, await row_counts()


async def test_authenticated_endpoints_bad_input(client: httpx.AsyncClient, row_counts: Counter) -> None:
    account, before = await account_and_counts(client, row_counts)
    h = account.headers
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", "/api/v1/auth/switch-store", {"store_id": "not-a-uuid"}, "store_id"),
        ("POST", "/api/v1/auth/switch-store", {}, "store_id"),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": 5}, "refresh_token"),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": ""}, "refresh_token"),
        ("POST", "/api/v1/auth/update-password", {"current_password": "x" * 8}, "new_password"),
        (
            "POST",
            "/api/v1/auth/update-password",
            {"current_password": "x" * 8, "new_password": "y" * 300},
            "new_password",
        ),
        ("PATCH", "/api/v1/stores/me", {"address": DEFAULT_ADDRESS}, "address"),
        ("PATCH", "/api/v1/stores/me", {"type": "vendor"}, "type"),
        ("PATCH", "/api/v1/stores/me", {"company_name": None}, "company_name"),
        ("PATCH", "/api/v1/stores/me", {"company_name": ""}, "company_name"),
        ("PATCH", "/api/v1/stores/me", {"email": "bad"}, "email"),
        ("PATCH", "/api/v1/stores/me", {"description": "d" * 2001}, "description"),
        ("PATCH", "/api/v1/stores/me", {"categories": ["flower", "guns"]}, "categories.1"),
        ("PATCH", "/api/v1/stores/me", {"social": {"myspace": "x"}}, "social.myspace"),
        ("PATCH", "/api/v1/stores/me", {"delivery_radius_meters": 5}, "delivery_radius_meters"),
        (
            "POST",
            "/api/v1/stores/me/users/invite",
            {"email": "a@example.com", "first_name": "A", "last_name": "B"},
            "role",
        ),
        (
            "POST",
            "/api/v1/stores/me/users/invite",
            {"email": "a@example.com", "first_name": "A", "last_name": "B", "role": "admin"},
            "role",
        ),
        (
            "POST",
            "/api/v1/stores/me/users/invite",
            {"email": "bad", "first_name": "A", "last_name": "B", "role": "staff"},
            "email",
        ),
        ("DELETE", "/api/v1/stores/me/users/not-a-uuid", None, "user_id"),
        ("GET", "/api/v1/stores/not-a-uuid", None, "store_id"),
        ("GET", "/api/v1/stores/me/users?limit=0", None, "limit"),
        ("GET", "/api/v1/stores/me/users?cursor=@@", None, "cursor"),
        ("GET", "/api/v1/stores/my?limit=abc", None, "limit"),
    ]
    for method, path, body, field in cases:
        response = await client.request(method, path, json=body, headers={**h, **idem()})
        assert field in details(response), (method, path, body, response.json())
    assert await row_counts() == before


async def test_vendor_radius_bounds(client: httpx.AsyncClient) -> None:
    from tests.fixtures.factories import register_vendor

    vendor = await register_vendor(client)
    for value in (-1, 1_000_001, 1.5, "100"):
        response = await client.patch(
            "/api/v1/stores/me", json={"delivery_radius_meters": value}, headers=vendor.headers
        )
        assert "delivery_radius_meters" in details(response), value
    ok = await client.patch(
        "/api/v1/stores/me", json={"delivery_radius_meters": 1_000_000}, headers=vendor.headers
    )
    assert ok.status_code == 200
    assert ok.json()["data"]["delivery_radius_meters"] == 1_000_000
