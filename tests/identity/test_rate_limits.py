"""Login and register rate limits (identity.md §6.4): by IP and by normalized email, fixed windows."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.kit.ratelimit import Policy, policy
from tests.fixtures.factories import DEFAULT_PASSWORD, idem, register_body, register_buyer, unique_email

LOGIN = "/api/v1/auth/login"


def sha(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def test_default_policies_come_from_config() -> None:
    settings = Settings(app_env="test")
    assert policy(settings, "login") == Policy("login", 60.0, 20, 5)
    assert policy(settings, "register") == Policy("register", 300.0, 20, 3)
    assert not Policy("login", 0, 5, 5).enabled
    assert not Policy("login", 60, 0, 0).enabled


async def test_login_email_limit_reached_then_reset_after_the_window(make_client: Any, redis: Redis) -> None:
    http, _ = await make_client(
        auth_rate_limit_login_window="1s",
        auth_rate_limit_login_email_limit=2,
        auth_rate_limit_login_ip_limit=0,
    )
    account = await register_buyer(http)
    body = {"email": f"  {account.email.upper()} ", "password": "wrong password"}
    for _ in range(2):
        assert (await http.post(LOGIN, json=body)).status_code == 401
    blocked = await http.post(LOGIN, json={"email": account.email, "password": DEFAULT_PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["error"] == {
        "code": "RATE_LIMIT_EXCEEDED",
        "message": "rate limit exceeded",
        "details": None,
    }
    assert blocked.headers["retry-after"] == "1"
    assert await redis.get(f"rl:email:login:{sha(account.email)}") == "3"
    assert await redis.keys("rl:ip:*") == []  # IP dimension off (limit 0)
    await asyncio.sleep(1.1)  # the fixed window expires
    ok = await http.post(LOGIN, json={"email": account.email, "password": DEFAULT_PASSWORD})
    assert ok.status_code == 200


async def test_login_ip_limit_uses_the_trusted_proxy_hop(make_client: Any, redis: Redis) -> None:
    http, _ = await make_client(
        auth_rate_limit_login_window="1m",
        auth_rate_limit_login_ip_limit=2,
        auth_rate_limit_login_email_limit=0,
    )
    attempt = {"email": unique_email(), "password": "whatever1"}
    # The leftmost entries are client-controlled: changing them must not give a fresh bucket.
    for spoofed in ("1.1.1.1", "9.9.9.9"):
        response = await http.post(
            LOGIN, json=attempt, headers={"X-Forwarded-For": f"{spoofed}, 203.0.113.5"}
        )
        assert response.status_code == 401
    blocked = await http.post(LOGIN, json=attempt, headers={"X-Forwarded-For": "8.8.8.8, 203.0.113.5"})
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert await redis.get("rl:ip:login:203.0.113.5") == "3"
    # another client IP (the hop the router added) is counted separately
    other = await http.post(LOGIN, json=attempt, headers={"X-Forwarded-For": "203.0.113.6"})
    assert other.status_code == 401


async def test_ip_limit_is_checked_before_the_body(make_client: Any) -> None:
    http, _ = await make_client(auth_rate_limit_login_window="1m", auth_rate_limit_login_ip_limit=1)
    assert (await http.post(LOGIN, json={"email": unique_email(), "password": "x" * 8})).status_code == 401
    blocked = await http.post(LOGIN, json={"unexpected": True})
    assert blocked.status_code == 429


async def test_two_proxy_hops(make_client: Any, redis: Redis) -> None:
    http, _ = await make_client(
        trusted_proxy_hops=2, auth_rate_limit_login_window="1m", auth_rate_limit_login_ip_limit=5
    )
    await http.post(
        LOGIN,
        json={"email": unique_email(), "password": "x" * 8},
        headers={"X-Forwarded-For": "7.7.7.7, 10.0.0.1, 10.0.0.2"},
    )
    assert await redis.get("rl:ip:login:10.0.0.1") == "1"


async def test_register_limits_by_email_and_ip(make_client: Any, redis: Redis) -> None:
    http, _ = await make_client(
        auth_rate_limit_register_window="5m",
        auth_rate_limit_register_email_limit=1,
        auth_rate_limit_register_ip_limit=3,
    )
    body = register_body()
    assert (await http.post("/api/v1/auth/register", json=body, headers=idem())).status_code == 201
    again = await http.post("/api/v1/auth/register", json={**body, "company_name": "Second"}, headers=idem())
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) > 60
    assert await redis.get(f"rl:email:register:{sha(body['email'])}") == "2"
    assert (await http.post("/api/v1/auth/register", json=register_body(), headers=idem())).status_code == 201
    blocked = await http.post("/api/v1/auth/register", json=register_body(), headers=idem())
    assert blocked.status_code == 429  # fourth attempt from the same IP
    assert await redis.get("rl:ip:register:127.0.0.1") == "4"


async def test_update_password_counts_against_the_callers_email(make_client: Any) -> None:
    http, _ = await make_client(auth_rate_limit_login_window="1m", auth_rate_limit_login_email_limit=2)
    account = await register_buyer(http)
    body = {"current_password": "not the one", "new_password": "a new password"}
    for _ in range(2):
        response = await http.post("/api/v1/auth/update-password", json=body, headers=account.headers)
        assert response.status_code == 401
    blocked = await http.post("/api/v1/auth/update-password", json=body, headers=account.headers)
    assert blocked.status_code == 429
    # the same email's logins share the budget
    login = await http.post(LOGIN, json={"email": account.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 429


async def test_redis_down_is_503(make_client: Any) -> None:
    http, app = await make_client(auth_rate_limit_login_window="1m", auth_rate_limit_login_ip_limit=5)
    app.state.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        response = await http.post(LOGIN, json={"email": unique_email(), "password": "whatever1"})
    finally:
        await app.state.redis.aclose()
    assert response.status_code == 503
    assert response.json()["error"]["details"] == {"dependency": "redis"}
