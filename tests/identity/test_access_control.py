"""Every refusal of identity.md §2 (pipeline), §3 (guards) and the auth endpoints, with status and code."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text

from packfinderz.config import DEV_JWT_SECRET
from packfinderz.kit.db import Database
from packfinderz.models import AuditLog, User
from tests.fixtures.factories import (
    DEFAULT_PASSWORD,
    accept_invitations,
    auth_headers,
    create_admin,
    create_agent,
    idem,
    invite,
    login,
    login_token,
    register_body,
    register_buyer,
    register_vendor,
    unique_email,
)


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def forge(claims: dict[str, Any], secret: str = DEV_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


# --- authentication (§2) -------------------------------------------------------------------------


async def test_missing_credentials(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = await client.get("/api/v1/stores/me", headers=headers)
        assert response.status_code == 401
        assert error(response) == {"code": "UNAUTHORIZED", "message": "missing credentials", "details": None}


async def test_tampered_expired_and_wrong_issuer_tokens(client: httpx.AsyncClient) -> None:
    account = await register_buyer(client)
    real = jwt.decode(account.access_token, options={"verify_signature": False})
    header, payload, signature = account.access_token.split(".")
    elevated = base64.urlsafe_b64encode(json.dumps({**real, "role": "admin"}).encode()).decode().rstrip("=")
    now = datetime.now(UTC)
    bad_tokens = {
        "tampered payload": f"{header}.{elevated}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-2]}AA",
        "other secret": forge(real, secret="x" * 40),
        "wrong issuer": forge({**real, "iss": "someone-else"}),
        "expired": forge(
            {
                **real,
                "iat": int((now - timedelta(hours=2)).timestamp()),
                "exp": int((now - timedelta(hours=1)).timestamp()),
            }
        ),
        "no jti": forge({k: v for k, v in real.items() if k != "jti"}),
        "alg none": jwt.encode(real, key="", algorithm="none"),
        "garbage": "not-a-jwt",
    }
    for name, token in bad_tokens.items():
        response = await client.get("/api/v1/stores/me", headers=auth_headers(token))
        assert response.status_code == 401, name
        assert error(response)["message"] == "invalid token", name
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 200


async def test_valid_token_without_session_is_revoked(client: httpx.AsyncClient, redis: Redis) -> None:
    account = await register_buyer(client)
    jti = jwt.decode(account.access_token, options={"verify_signature": False})["jti"]
    await redis.delete(f"pf:session:access:{jti}")
    response = await client.get("/api/v1/stores/me", headers=account.headers)
    assert response.status_code == 401
    assert error(response)["message"] == "session expired or revoked"


async def test_session_of_another_user_does_not_authenticate(client: httpx.AsyncClient) -> None:
    account = await register_buyer(client)
    real = jwt.decode(account.access_token, options={"verify_signature": False})
    stolen = forge({**real, "user_id": str(uuid.uuid4())})  # someone else's id on a live jti
    response = await client.get("/api/v1/stores/me", headers=auth_headers(stolen))
    assert response.status_code == 401


async def test_redis_down_on_authentication_is_503(make_client: Any) -> None:
    http, app = await make_client()
    account = await register_buyer(http)
    working = app.state.redis
    app.state.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        response = await http.get("/api/v1/stores/me", headers=account.headers)
    finally:
        await app.state.redis.aclose()
        app.state.redis = working
    assert response.status_code == 503
    assert error(response)["details"] == {"dependency": "redis"}
    assert (await http.get("/api/v1/stores/me", headers=account.headers)).status_code == 200


# --- store context and guards (§2, §3) -----------------------------------------------------------


async def test_system_users_have_no_store_context(
    probe_client: httpx.AsyncClient, db: Database, settings: Any
) -> None:
    agent = await create_agent(db, settings)
    account = await login(probe_client, agent.email, agent.password)
    assert account.body["stores"] == []
    assert account.body["active_store_id"] is None
    token = jwt.decode(account.access_token, options={"verify_signature": False})
    assert token["role"] == "agent"
    assert "active_store_id" not in token
    assert "store_type" not in token
    response = await probe_client.get("/api/v1/stores/me", headers=account.headers)
    assert response.status_code == 403
    assert error(response)["message"] == "store context missing"
    ok = await probe_client.get("/test/probe/agent", headers=account.headers)
    assert ok.status_code == 200
    admin_only = await probe_client.get("/test/probe/admin", headers=account.headers)
    assert admin_only.status_code == 403
    assert error(admin_only)["message"] == "role required"


async def test_system_role_guards(probe_client: httpx.AsyncClient, db: Database, settings: Any) -> None:
    buyer = await register_buyer(probe_client)
    admin = await create_admin(db, settings)
    admin_token = auth_headers(await login_token(probe_client, admin.email, admin.password, admin=True))
    for path, headers in (
        ("/test/probe/agent", buyer.headers),
        ("/test/probe/admin", buyer.headers),
        ("/test/probe/agent", admin_token),
        ("/api/admin/v1/audit", buyer.headers),
        ("/api/admin/v1/users", buyer.headers),
    ):
        response = await probe_client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert error(response) == {"code": "FORBIDDEN", "message": "role required", "details": None}
    assert (await probe_client.get("/test/probe/admin", headers=admin_token)).status_code == 200
    assert (await probe_client.get("/api/admin/v1/audit", headers=admin_token)).status_code == 200


async def test_store_type_guards_read_the_store_row(probe_client: httpx.AsyncClient) -> None:
    buyer = await register_buyer(probe_client)
    vendor = await register_vendor(probe_client)
    denied = await probe_client.get("/test/probe/vendor", headers=buyer.headers)
    assert denied.status_code == 403
    assert error(denied)["message"] == "vendor access required"
    denied = await probe_client.get("/test/probe/buyer", headers=vendor.headers)
    assert denied.status_code == 403
    assert error(denied)["message"] == "buyer access required"
    assert (await probe_client.get("/test/probe/vendor", headers=vendor.headers)).status_code == 200
    # a forged store_type claim changes nothing: the type comes from the database
    real = jwt.decode(buyer.access_token, options={"verify_signature": False})
    forged = forge({**real, "store_type": "vendor"})
    response = await probe_client.get("/test/probe/vendor", headers=auth_headers(forged))
    assert response.status_code == 403


async def test_store_role_guards(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    staff_user = await register_vendor(client)
    await invite(client, owner, email=staff_user.email, role="staff")
    staff = await login(client, staff_user.email, staff_user.password)
    await accept_invitations(client, staff)
    switched = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=staff.headers
    )
    headers = auth_headers(switched.json()["data"]["access_token"])
    assert (await client.get("/api/v1/stores/me", headers=headers)).status_code == 200
    for method, path, body in (
        ("PATCH", "/api/v1/stores/me", {"description": "x"}),
        ("GET", "/api/v1/stores/me/users", None),
        (
            "POST",
            "/api/v1/stores/me/users/invite",
            {"email": unique_email(), "first_name": "A", "last_name": "B", "role": "ops"},
        ),
        ("DELETE", f"/api/v1/stores/me/users/{owner.user_id}", None),
    ):
        response = await client.request(method, path, json=body, headers={**headers, **idem()})
        assert response.status_code == 403, path
        assert error(response)["message"] == "insufficient store role", path


async def test_manager_cannot_grant_or_remove_owner(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client)
    manager_user = await register_vendor(client)
    await invite(client, owner, email=manager_user.email, role="manager")
    manager = await login(client, manager_user.email, manager_user.password)
    await accept_invitations(client, manager)
    switched = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=manager.headers
    )
    headers = auth_headers(switched.json()["data"]["access_token"])
    body = {"email": unique_email(), "first_name": "A", "last_name": "B", "role": "owner"}
    response = await client.post("/api/v1/stores/me/users/invite", json=body, headers={**headers, **idem()})
    assert response.status_code == 403
    assert error(response)["message"] == "insufficient store role"
    response = await client.delete(f"/api/v1/stores/me/users/{owner.user_id}", headers=headers)
    assert response.status_code == 403
    # a manager may invite and remove non-owners
    staff = await client.post(
        "/api/v1/stores/me/users/invite", json={**body, "role": "staff"}, headers={**headers, **idem()}
    )
    assert staff.status_code == 201
    removed = await client.delete(
        f"/api/v1/stores/me/users/{staff.json()['data']['membership']['user_id']}", headers=headers
    )
    assert removed.status_code == 204


async def test_password_change_gate(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    data = await invite(client, owner, role="staff")
    account = await login(client, data["membership"]["email"], data["temporary_password"])
    for method, path in (
        ("GET", "/api/v1/stores/me"),
        ("GET", "/api/v1/stores/my"),
        ("POST", "/api/v1/auth/switch-store"),
    ):
        response = await client.request(
            method, path, json={"store_id": str(owner.store_id)}, headers=account.headers
        )
        assert response.status_code == 403, path
        assert error(response) == {
            "code": "PASSWORD_CHANGE_REQUIRED",
            "message": "password change required",
            "details": None,
        }
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert refreshed.status_code == 200
    token = refreshed.json()["data"]["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["must_change_password"] is True
    assert (await client.post("/api/v1/auth/logout", headers=auth_headers(token))).status_code == 200


# --- register / login refusals (§6.5) ------------------------------------------------------------


async def test_register_existing_email_wrong_password(client: httpx.AsyncClient, row_counts: Any) -> None:
    first = await register_buyer(client)
    before = await row_counts()
    body = register_body(email=first.email, password="not the password")
    response = await client.post("/api/v1/auth/register", json=body, headers=idem())
    assert response.status_code == 401
    assert error(response)["message"] == "invalid credentials"
    assert await row_counts() == before


async def test_register_with_a_system_user_email(
    client: httpx.AsyncClient, db: Database, settings: Any, row_counts: Any
) -> None:
    agent = await create_agent(db, settings)
    before = await row_counts()
    body = register_body(email=agent.email, password=agent.password)
    response = await client.post("/api/v1/auth/register", json=body, headers=idem())
    assert response.status_code == 409
    assert error(response)["message"] == "system users cannot join stores"
    assert await row_counts() == before


@pytest.mark.parametrize("reason", ["unknown_email", "bad_password", "inactive", "no_access"])
async def test_login_refusals_are_401_and_audited(
    client: httpx.AsyncClient, db: Database, reason: str
) -> None:
    account = await register_buyer(client)
    email, password = account.email, account.password
    if reason == "unknown_email":
        email = unique_email("ghost")
    elif reason == "bad_password":
        password = "wrong password!"
    elif reason == "inactive":
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE users SET is_active = false WHERE id = :id"), {"id": account.user_id}
            )
    else:
        async with db.transaction() as session:
            await session.execute(
                text("DELETE FROM store_memberships WHERE user_id = :id"), {"id": account.user_id}
            )
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 401
    assert error(response) == {"code": "UNAUTHORIZED", "message": "invalid credentials", "details": None}
    async with db.transaction() as session:
        [row] = (await session.scalars(select(AuditLog).where(AuditLog.action == "auth.login_failed"))).all()
    assert row.payload["reason"] == reason
    assert row.payload["via"] == "login"
    assert row.payload["ip"] == "203.0.113.9"
    assert len(row.payload["email_sha256"]) == 64
    assert email not in json.dumps(row.payload)
    assert row.actor_role == "anonymous"
    expected_user = None if reason == "unknown_email" else account.user_id
    assert row.target_id == expected_user
    assert row.actor_user_id == expected_user
    async with db.transaction() as session:
        user = await session.get(User, account.user_id)
        assert user is not None
        assert user.last_login_at is None


async def test_admin_login_refuses_non_admins(client: httpx.AsyncClient, db: Database, settings: Any) -> None:
    buyer = await register_buyer(client)
    agent = await create_agent(db, settings)
    for email, password in ((buyer.email, buyer.password), (agent.email, agent.password)):
        response = await client.post("/api/admin/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 401
        assert error(response)["message"] == "invalid credentials"
    async with db.transaction() as session:
        rows = (await session.scalars(select(AuditLog).where(AuditLog.action == "auth.login_failed"))).all()
    assert {(r.payload["reason"], r.payload["via"]) for r in rows} == {("not_admin", "admin_login")}
    admin = await create_admin(db, settings)
    response = await client.post(
        "/api/admin/v1/auth/login", json={"email": admin.email, "password": admin.password}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"user", "access_token", "access_token_expires_at", "refresh_token"}
    assert data["user"]["system_role"] == "admin"
    assert response.headers["x-pf-token"] == data["access_token"]


async def test_dev_admin_register(client: httpx.AsyncClient, db: Database) -> None:
    body = {
        "first_name": "Ada",
        "last_name": "Min",
        "email": unique_email("admin"),
        "password": DEFAULT_PASSWORD,
    }
    response = await client.post("/api/admin/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["user"]["system_role"] == "admin"
    assert data["user"]["is_active"] is True
    assert jwt.decode(data["access_token"], options={"verify_signature": False})["role"] == "admin"
    audit = await client.get(
        "/api/admin/v1/audit?action=user.created", headers=auth_headers(data["access_token"])
    )
    assert audit.json()["data"]["items"][0]["payload"] == {"via": "admin_register", "system_role": "admin"}
    duplicate = await client.post("/api/admin/v1/auth/register", json=body)
    assert duplicate.status_code == 409


async def test_dev_admin_register_is_absent_in_prod(make_client: Any) -> None:
    http, app = await make_client(
        app_env="prod",
        jwt_secret="p" * 40,
        ads_token_secret="a" * 40,
        storage_signing_secret="s" * 40,
        public_base_url="http://prod.example",
        billing_provider="square",
    )
    paths = app.openapi()["paths"]
    assert "/api/admin/v1/auth/register" not in paths
    assert "/api/admin/v1/auth/login" in paths
    body = {"first_name": "Ada", "last_name": "Min", "email": unique_email(), "password": DEFAULT_PASSWORD}
    response = await http.post("/api/admin/v1/auth/register", json=body)
    assert response.status_code in (404, 405)


# --- refresh / switch-store / update-password refusals -------------------------------------------


async def test_refresh_refusals(client: httpx.AsyncClient, db: Database, redis: Redis) -> None:
    account = await register_buyer(client)
    wrong = await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}, headers=account.headers)
    assert wrong.status_code == 401
    assert error(wrong)["message"] == "invalid refresh token"
    missing = await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert missing.status_code == 401
    assert error(missing)["message"] == "missing credentials"
    bad = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=auth_headers("x.y.z")
    )
    assert bad.status_code == 401
    assert error(bad)["message"] == "invalid token"
    # the session still works after refused attempts
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 200
    # an inactive user: 401 and the session is revoked
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE users SET is_active = false WHERE id = :id"), {"id": account.user_id}
        )
    inactive = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert inactive.status_code == 401
    jti = jwt.decode(account.access_token, options={"verify_signature": False})["jti"]
    assert await redis.exists(f"pf:session:access:{jti}") == 0


async def test_switch_store_refusals(client: httpx.AsyncClient, db: Database, settings: Any) -> None:
    owner = await register_buyer(client)
    stranger = await register_vendor(client)
    response = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=stranger.headers
    )
    assert response.status_code == 403
    assert error(response)["message"] == "store membership required"
    await invite(client, owner, email=stranger.email, role="staff")  # invited, not yet active
    response = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=stranger.headers
    )
    assert response.status_code == 403
    assert error(response)["message"] == "store membership inactive"
    response = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(uuid.uuid4())}, headers=stranger.headers
    )
    assert response.status_code == 403
    assert error(response)["message"] == "store membership required"
    agent = await create_agent(db, settings)
    agent_token = auth_headers(await login_token(client, agent.email, agent.password))
    response = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=agent_token
    )
    assert response.status_code == 403
    assert error(response)["message"] == "store membership required"


async def test_invite_answers_for_system_users_as_for_anyone(
    client: httpx.AsyncClient, db: Database, settings: Any
) -> None:
    """issue #17 (was 409 `system users cannot join stores`): the inviter cannot tell a system account
    from anyone else; the invitation is pending and its invitee can never accept it."""
    owner = await register_buyer(client)
    admin = await create_admin(db, settings)
    body = {"email": admin.email, "first_name": "A", "last_name": "B", "role": "staff"}
    response = await client.post(
        "/api/v1/stores/me/users/invite", json=body, headers={**owner.headers, **idem()}
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert len(data["temporary_password"]) == 16
    assert (data["membership"]["first_name"], data["membership"]["last_name"]) == ("A", "B")
    assert data["membership"]["membership_status"] == "invited"
    admin_headers = auth_headers(await login_token(client, admin.email, admin.password, admin=True))
    listed = await client.get("/api/v1/invitations", headers=admin_headers)
    assert listed.status_code == 200
    assert listed.json()["data"]["items"] == []
    accepted = await client.post(
        f"/api/v1/invitations/{data['membership']['membership_id']}/accept", headers=admin_headers
    )
    assert accepted.status_code == 404
    async with db.transaction() as session:
        statuses = (
            await session.scalars(
                text("SELECT status FROM store_memberships WHERE user_id = :u"), {"u": admin.user_id}
            )
        ).all()
    assert statuses == ["invited"]


async def test_update_password(client: httpx.AsyncClient, db: Database) -> None:
    account = await register_buyer(client)
    other_session = await login(client, account.email, account.password)
    wrong = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": "not it at all", "new_password": "another secret"},
        headers={**account.headers, "X-Forwarded-For": "198.51.100.7"},
    )
    assert wrong.status_code == 401
    assert error(wrong)["message"] == "invalid credentials"
    async with db.transaction() as session:
        [failed] = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "auth.password_change_failed"))
        ).all()
    assert failed.payload == {"ip": "198.51.100.7"}
    assert failed.target_id == account.user_id
    same = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": account.password, "new_password": account.password},
        headers=account.headers,
    )
    assert same.status_code == 400
    assert error(same)["details"] == {"new_password": "must differ from the current password"}
    weak = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": account.password, "new_password": "short"},
        headers=account.headers,
    )
    assert weak.status_code == 400
    assert "new_password" in error(weak)["details"]

    ok = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": account.password, "new_password": "the new password"},
        headers=account.headers,
    )
    assert ok.status_code == 200, ok.text
    data = ok.json()["data"]
    assert set(data) == {"access_token", "access_token_expires_at", "refresh_token"}
    assert ok.headers["x-pf-token"] == data["access_token"]
    # this session was rotated, every other one revoked
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 401
    assert (await client.get("/api/v1/stores/me", headers=other_session.headers)).status_code == 401
    assert (
        await client.get("/api/v1/stores/me", headers=auth_headers(data["access_token"]))
    ).status_code == 200
    assert (
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
    ).status_code == 401
    await login(client, account.email, "the new password")
    async with db.transaction() as session:
        user = await session.get(User, account.user_id)
        assert user is not None
        assert user.password_changed_at is not None
        changed = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "auth.password_changed"))
        ).all()
    assert len(changed) == 1


async def test_admin_reset_password(client: httpx.AsyncClient, db: Database, settings: Any) -> None:
    account = await register_buyer(client)
    admin = await create_admin(db, settings)
    headers = auth_headers(await login_token(client, admin.email, admin.password, admin=True))
    missing = await client.post(f"/api/admin/v1/users/{uuid.uuid4()}/reset-password", headers=headers)
    assert missing.status_code == 404
    bad = await client.post("/api/admin/v1/users/not-a-uuid/reset-password", headers=headers)
    assert bad.status_code == 400
    assert error(bad)["code"] == "VALIDATION_ERROR"
    denied = await client.post(
        f"/api/admin/v1/users/{account.user_id}/reset-password", headers=account.headers
    )
    assert denied.status_code == 403

    response = await client.post(f"/api/admin/v1/users/{account.user_id}/reset-password", headers=headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert data["user_id"] == str(account.user_id)
    assert len(data["temporary_password"]) == 16
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 401
    assert (
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
    ).status_code == 401
    relogged = await login(client, account.email, data["temporary_password"])
    assert relogged.body["user"]["must_change_password"] is True
    audit = await client.get(
        f"/api/admin/v1/audit?action=auth.password_reset&target_id={account.user_id}", headers=headers
    )
    [row] = audit.json()["data"]["items"]
    assert row["payload"] == {"via": "admin"}
    assert row["actor_user_id"] == str(admin.user_id)
    assert row["actor_role"] == "admin"
