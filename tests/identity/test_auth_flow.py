"""The whole identity flow through HTTP: register, login, switch, refresh, reuse, logout, invite, remove."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import structlog
from redis.asyncio import Redis
from sqlalchemy import select
from structlog.testing import capture_logs

from packfinderz.kit.db import Database
from packfinderz.models import AuditLog, StoreMembership, User
from tests.fixtures.factories import (
    DEFAULT_PASSWORD,
    accept_invitations,
    auth_headers,
    idem,
    invite,
    login,
    register_body,
    register_buyer,
    register_vendor,
    switch_store,
    unique_email,
)


def claims(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


async def audit_rows(db: Database, action: str) -> list[AuditLog]:
    async with db.transaction() as session:
        return list((await session.scalars(select(AuditLog).where(AuditLog.action == action))).all())


async def test_register_creates_user_store_owner_membership_and_session(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    body = register_body(store_type="vendor", email="  Owner@Example.COM ", phone="+1 405 555 0100")
    response = await client.post("/api/v1/auth/register", json=body, headers=idem())
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert response.headers["x-pf-token"] == data["access_token"]
    assert data["user"]["email"] == "owner@example.com"
    assert "password_hash" not in data["user"]
    assert "password_changed_at" not in data["user"]
    store = data["store"]
    assert store["type"] == "vendor"
    assert store["kyc_status"] == "pending_verification"
    assert store["subscription_active"] is False
    assert store["address"] == {**body["address"], "line2": None}
    assert store["owner"] == {"id": data["user"]["id"], "full_name": "Pat Doe", "email": "owner@example.com"}
    assert store["ratings"] == {
        "count": 0,
        "average": None,
        "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    assert store["categories"] == []
    assert store["licenses"] == []
    assert data["stores"] == [
        {"id": store["id"], "name": body["company_name"], "type": "vendor", "role": "owner", "logo_url": None}
    ]
    assert data["access_token_expires_at"].endswith("Z")
    token = claims(data["access_token"])
    assert token["user_id"] == data["user"]["id"]
    assert token["role"] == "owner"
    assert token["active_store_id"] == store["id"]
    assert token["store_type"] == "vendor"
    assert token["kyc_status"] == "pending_verification"
    assert token["iss"] == "packfinderz"
    assert token["exp"] - token["iat"] == 15 * 60
    assert "must_change_password" not in token
    session_record = await redis.get(f"pf:session:access:{token['jti']}")
    assert session_record is not None
    assert data["refresh_token"] not in session_record
    assert await redis.sismember(f"pf:session:user:{data['user']['id']}", token["jti"])
    async with db.transaction() as session:
        membership = (await session.scalars(select(StoreMembership))).one()
    assert (membership.role, membership.status, str(membership.user_id)) == (
        "owner",
        "active",
        data["user"]["id"],
    )
    [created] = await audit_rows(db, "store.created")
    assert str(created.target_id) == store["id"]
    assert created.payload == {"type": "vendor"}
    assert (created.actor_role, str(created.actor_store_id)) == ("owner", store["id"])


async def test_existing_email_with_matching_password_adds_a_store(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await register_buyer(client)
    body = register_body(
        store_type="vendor", email=first.email, first_name="Ignored", company_name="AAA Second"
    )
    response = await client.post("/api/v1/auth/register", json=body, headers=idem())
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["user"]["id"] == str(first.user_id)
    assert data["user"]["first_name"] == "Pat"  # names of an existing user are ignored
    assert {s["id"] for s in data["stores"]} == {str(first.store_id), data["store"]["id"]}
    async with db.transaction() as session:
        assert len((await session.scalars(select(User))).all()) == 1


async def test_login_selects_first_store_by_name_and_switches_between_stores(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await register_buyer(client, company_name="Zeta Buyers")
    second = register_body(store_type="vendor", email=buyer.email, company_name="Alpha Vendors")
    vendor_store = (await client.post("/api/v1/auth/register", json=second, headers=idem())).json()["data"][
        "store"
    ]

    account = await login(client, buyer.email, DEFAULT_PASSWORD)
    assert account.body["active_store_id"] == vendor_store["id"]  # "Alpha" sorts first
    assert [s["name"] for s in account.body["stores"]] == ["Alpha Vendors", "Zeta Buyers"]
    assert claims(account.access_token)["store_type"] == "vendor"
    assert account.body["user"]["last_login_at"] is not None
    me = await client.get("/api/v1/stores/me", headers=account.headers)
    assert me.json()["data"]["id"] == vendor_store["id"]
    assert me.json()["data"]["last_active_at"] is not None

    old_token = account.access_token
    response = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(buyer.store_id)}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert {k: data[k] for k in ("store_id", "store_name", "store_type", "role")} == {
        "store_id": str(buyer.store_id),
        "store_name": "Zeta Buyers",
        "store_type": "buyer",
        "role": "owner",
    }
    assert response.headers["x-pf-token"] == data["access_token"]
    assert response.headers["cache-control"] == "no-store"
    assert claims(data["access_token"])["active_store_id"] == str(buyer.store_id)
    # switching rotates the session: the previous access token is dead
    assert (await client.get("/api/v1/stores/me", headers=auth_headers(old_token))).status_code == 401
    me = await client.get("/api/v1/stores/me", headers=auth_headers(data["access_token"]))
    assert me.json()["data"]["id"] == str(buyer.store_id)

    succeeded = await audit_rows(db, "auth.login_succeeded")
    assert [(r.payload, str(r.target_id)) for r in succeeded] == [({"via": "login"}, str(buyer.user_id))]


async def test_refresh_rotates_and_reusing_the_old_token_revokes_the_session(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    account = await register_buyer(client)
    first = {"refresh_token": account.refresh_token}
    response = await client.post("/api/v1/auth/refresh", json=first, headers=account.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["active_store_id"] == str(account.store_id)
    assert data["refresh_token"] != account.refresh_token
    assert response.headers["x-pf-token"] == data["access_token"]
    new_headers = auth_headers(data["access_token"])
    assert (await client.get("/api/v1/stores/me", headers=new_headers)).status_code == 200
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 401

    # the old refresh token with the new access token: just refused
    mismatch = await client.post("/api/v1/auth/refresh", json=first, headers=new_headers)
    assert mismatch.status_code == 401
    assert mismatch.json()["error"]["message"] == "invalid refresh token"
    assert (await client.get("/api/v1/stores/me", headers=new_headers)).status_code == 200

    # the old pair again (a stolen token replayed): refused, and the whole session is revoked
    reused = await client.post("/api/v1/auth/refresh", json=first, headers=account.headers)
    assert reused.status_code == 401
    assert reused.json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "invalid refresh token",
        "details": None,
    }
    gone = await client.get("/api/v1/stores/me", headers=new_headers)
    assert gone.status_code == 401
    assert gone.json()["error"]["message"] == "session expired or revoked"
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": data["refresh_token"]}, headers=new_headers
    )
    assert again.status_code == 401
    assert await redis.smembers(f"pf:session:user:{account.user_id}") == set()


async def test_reuse_revokes_only_that_session(client: httpx.AsyncClient) -> None:
    account = await register_buyer(client)
    other = await login(client, account.email, account.password)
    first = {"refresh_token": account.refresh_token}
    assert (await client.post("/api/v1/auth/refresh", json=first, headers=account.headers)).status_code == 200
    assert (await client.post("/api/v1/auth/refresh", json=first, headers=account.headers)).status_code == 401
    assert (await client.get("/api/v1/stores/me", headers=other.headers)).status_code == 200


async def test_refresh_accepts_an_expired_access_token(make_client: Any, db: Database) -> None:
    http, app = await make_client()
    account = await register_buyer(http)
    tokens = app.state.identity.tokens
    token = claims(account.access_token)
    expired, _ = tokens.issue(
        user_id=uuid.UUID(token["user_id"]),
        role="owner",
        jti=token["jti"],
        active_store_id=account.store_id,
        store_type="buyer",
        kyc_status="pending_verification",
        now=datetime(2020, 1, 1, tzinfo=UTC),
    )
    denied = await http.get("/api/v1/stores/me", headers=auth_headers(expired))
    assert denied.status_code == 401
    assert denied.json()["error"]["message"] == "invalid token"
    response = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=auth_headers(expired)
    )
    assert response.status_code == 200, response.text


async def test_logout_kills_the_access_token(client: httpx.AsyncClient, redis: Redis) -> None:
    account = await register_buyer(client)
    jti = claims(account.access_token)["jti"]
    response = await client.post("/api/v1/auth/logout", headers=account.headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "logged_out"}}
    assert await redis.exists(f"pf:session:access:{jti}") == 0
    denied = await client.get("/api/v1/stores/me", headers=account.headers)
    assert denied.status_code == 401
    assert denied.json()["error"]["message"] == "session expired or revoked"
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert refresh.status_code == 401
    # logging out twice is still a success
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 200


async def login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return response.status_code


async def test_invite_new_user_gets_temporary_password_once(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client)
    email = unique_email("new")
    body = {"email": email.upper(), "first_name": "Nia", "last_name": "Lee", "role": "manager"}
    response = await client.post(
        "/api/v1/stores/me/users/invite", json=body, headers={**owner.headers, **idem()}
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    temporary = data["temporary_password"]
    assert len(temporary) == 16
    assert temporary.isalnum()
    membership = data["membership"]
    assert membership["email"] == email
    assert (membership["role"], membership["membership_status"]) == ("manager", "invited")
    assert membership["invited_by_user_id"] == str(owner.user_id)
    [row] = await audit_rows(db, "member.invited")
    assert row.payload == {"user_id": membership["user_id"], "role": "manager", "user_created": True}
    assert str(row.target_id) == membership["membership_id"]

    # issue #17: the invitee signs in with it, without a store (the invitation waits for consent), must
    # change the password first, then accepts and switches to the store
    invitee = await login(client, email, temporary)
    assert invitee.body["user"]["must_change_password"] is True
    assert invitee.body["active_store_id"] is None
    assert invitee.body["stores"] == []
    assert claims(invitee.access_token)["must_change_password"] is True
    gated = await client.get("/api/v1/invitations", headers=invitee.headers)
    assert gated.status_code == 403
    assert gated.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    changed = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": temporary, "new_password": "a brand new secret"},
        headers=invitee.headers,
    )
    assert changed.status_code == 200, changed.text
    new_token = changed.json()["data"]["access_token"]
    assert "must_change_password" not in claims(new_token)
    invitee.access_token = new_token
    members = await client.get("/api/v1/stores/me/users", headers=owner.headers)
    statuses = {m["email"]: m["membership_status"] for m in members.json()["data"]["items"]}
    assert statuses[email] == "invited"
    assert await accept_invitations(client, invitee) == [owner.store_id]
    invitee = await switch_store(client, invitee, owner.store_id)  # type: ignore[arg-type]
    me = await client.get("/api/v1/stores/me", headers=invitee.headers)
    assert me.status_code == 200
    members = await client.get("/api/v1/stores/me/users", headers=owner.headers)
    statuses = {m["email"]: m["membership_status"] for m in members.json()["data"]["items"]}
    assert statuses[email] == "active"


async def test_invite_existing_user_never_touches_their_password(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await register_buyer(client)
    other = await register_vendor(client)
    async with db.transaction() as session:
        before = (await session.scalars(select(User.password_hash).where(User.id == other.user_id))).one()
    data = await invite(client, owner, email=other.email, role="staff")
    # the same answer as for a new email (issue #17): a one-time value that opens nothing here
    assert len(data["temporary_password"]) == 16
    assert data["membership"]["user_id"] == str(other.user_id)
    assert await login_status(client, other.email, data["temporary_password"]) == 401
    async with db.transaction() as session:
        user = (await session.scalars(select(User).where(User.id == other.user_id))).one()
    assert user.password_hash == before
    assert user.must_change_password is False
    [row] = await audit_rows(db, "member.invited")
    assert row.payload["user_created"] is False
    # their own password still works; the new store is theirs only once they accept (issue #17)
    account = await login(client, other.email, other.password)
    assert {s["id"] for s in account.body["stores"]} == {str(other.store_id)}
    await accept_invitations(client, account)
    account = await login(client, other.email, other.password)
    assert {s["id"] for s in account.body["stores"]} == {str(owner.store_id), str(other.store_id)}
    # inviting an existing member again: 200, unchanged
    again = await client.post(
        "/api/v1/stores/me/users/invite",
        json={"email": other.email, "first_name": "X", "last_name": "Y", "role": "manager"},
        headers={**owner.headers, **idem()},
    )
    assert again.status_code == 200
    assert again.json()["data"]["membership"]["role"] == "staff"
    assert again.json()["data"]["temporary_password"] is None
    assert len(await audit_rows(db, "member.invited")) == 1


async def test_remove_member_stops_their_token_at_once(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client)
    member = await register_vendor(client)
    await invite(client, owner, email=member.email, role="staff")
    account = await login(client, member.email, member.password)
    await accept_invitations(client, account)
    account = await switch_store(client, account, owner.store_id)  # type: ignore[arg-type]
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 200

    response = await client.delete(f"/api/v1/stores/me/users/{member.user_id}", headers=owner.headers)
    assert response.status_code == 204
    assert response.content == b""
    denied = await client.get("/api/v1/stores/me", headers=account.headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "store membership required",
        "details": None,
    }
    [row] = await audit_rows(db, "member.removed")
    assert row.payload == {"user_id": str(member.user_id), "role": "staff"}
    assert (row.actor_role, row.actor_user_id) == ("owner", owner.user_id)
    # refresh on the removed store's session is refused too
    refused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "store membership required"


async def test_last_owner_guard(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client)
    response = await client.delete(f"/api/v1/stores/me/users/{owner.user_id}", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "cannot remove last owner"
    # an invited owner does not count until they log in (their membership becomes active then)
    co_owner = await register_vendor(client)
    await invite(client, owner, email=co_owner.email, role="owner")
    response = await client.delete(f"/api/v1/stores/me/users/{owner.user_id}", headers=owner.headers)
    assert response.status_code == 409
    # with a second active owner, an owner may leave (self-removal follows the same rules)
    await accept_invitations(client, await login(client, co_owner.email, co_owner.password))
    assert (
        await client.delete(f"/api/v1/stores/me/users/{owner.user_id}", headers=owner.headers)
    ).status_code == 204
    async with db.transaction() as session:
        owners = (
            await session.scalars(select(StoreMembership).where(StoreMembership.store_id == owner.store_id))
        ).all()
    assert [(m.user_id, m.role) for m in owners] == [(co_owner.user_id, "owner")]


@contextmanager
def all_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture every log event (the suite logs at warning) and restore the configuration afterwards."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**saved)


async def test_logs_carry_the_caller_and_never_secrets(client: httpx.AsyncClient) -> None:
    with all_logs() as logs:
        account = await register_buyer(client)
        await client.post("/api/v1/auth/login", json={"email": account.email, "password": "wrong password"})
        data = await invite(client, account)
        await client.get("/api/v1/stores/me", headers=account.headers)
    complete = [e for e in logs if e["event"] == "request.complete" and e["path"] == "/api/v1/stores/me"]
    assert complete[-1]["user_id"] == str(account.user_id)
    assert complete[-1]["store_id"] == str(account.store_id)
    assert complete[-1]["actor_role"] == "owner"
    everything = repr(logs)
    for secret in (account.password, account.access_token, account.refresh_token, data["temporary_password"]):
        assert secret not in everything
    assert account.email not in everything
    assert any(e["event"] == "auth.login_failed" and e["reason"] == "bad_password" for e in logs)


async def test_concurrent_invites_of_a_new_email_create_one_user(
    client: httpx.AsyncClient, db: Database
) -> None:
    owners = [await register_buyer(client) for _ in range(4)]
    email = unique_email("popular")
    body = {"email": email, "first_name": "Po", "last_name": "Pular", "role": "staff"}
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/stores/me/users/invite", json=body, headers={**owner.headers, **idem()})
            for owner in owners
        )
    )
    assert [r.status_code for r in responses] == [201] * 4
    # every answer carries a one-time value (issue #17); exactly one of them became the password
    temporaries = [r.json()["data"]["temporary_password"] for r in responses]
    assert all(t is not None for t in temporaries)
    statuses = [
        (await client.post("/api/v1/auth/login", json={"email": email, "password": t})).status_code
        for t in temporaries
    ]
    assert sorted(statuses) == [200, 401, 401, 401]
    async with db.transaction() as session:
        [user] = (await session.scalars(select(User).where(User.email == email))).all()
        memberships = (
            await session.scalars(select(StoreMembership).where(StoreMembership.user_id == user.id))
        ).all()
    assert {m.store_id for m in memberships} == {o.store_id for o in owners}
