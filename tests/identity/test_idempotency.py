"""Idempotency keys (identity.md §4) on real routes: replay, mismatch, in-flight 409, scope, 5xx, Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select, text

from packfinderz.kit.db import Database
from packfinderz.models import Store, User
from tests.fixtures.factories import idem, register_body, register_buyer, unique_email
from tests.fixtures.logs import LogCapture

REGISTER = "/api/v1/auth/register"
INVITE = "/api/v1/stores/me/users/invite"


async def count(db: Database, model: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_replay_returns_the_first_answer_without_secrets(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    body = register_body()
    first = await client.post(REGISTER, json=body, headers=idem("reg-1"))
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    record = json.loads(await redis.get("pf:idempotency:-:-:POST:/api/v1/auth/register:reg-1") or "{}")
    assert record["state"] == "done"
    assert record["status"] == 201
    assert record["content_type"] == "application/json"
    assert first.json()["data"]["refresh_token"] not in json.dumps(record)
    assert first.json()["data"]["access_token"] not in json.dumps(record)
    assert 0 < await redis.ttl("pf:idempotency:-:-:POST:/api/v1/auth/register:reg-1") <= 24 * 3600

    replay = await client.post(REGISTER, json=body, headers=idem(" reg-1 "))  # trimmed: the same key
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == "application/json"
    assert "x-pf-token" not in replay.headers
    expected = first.json()
    expected["data"]["access_token"] = None
    expected["data"]["refresh_token"] = None
    assert replay.json() == expected
    assert await count(db, Store) == 1
    assert await count(db, User) == 1


async def test_same_key_other_body_is_422(client: httpx.AsyncClient, db: Database) -> None:
    body = register_body()
    assert (await client.post(REGISTER, json=body, headers=idem("k"))).status_code == 201
    response = await client.post(REGISTER, json={**body, "company_name": "Other"}, headers=idem("k"))
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "IDEMPOTENCY_KEY_REUSED",
        "message": "idempotency key reused with a different request",
        "details": {"key": "k"},
    }
    assert await count(db, Store) == 1


async def test_missing_or_invalid_key_is_400_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = register_body()
    missing = await client.post(REGISTER, json=body)
    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {"Idempotency-Key": "is required"}
    for bad in (b"   ", b"x" * 256, "caf\u00e9".encode("latin-1"), b"tab\there"):
        response = await client.post(REGISTER, json=body, headers=[(b"Idempotency-Key", bad)])
        assert response.status_code == 400, bad
        assert "Idempotency-Key" in response.json()["error"]["details"]
    assert await count(db, Store) == 0


async def test_two_requests_in_flight_with_the_same_key(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    body = register_body()
    key = "pf:idempotency:-:-:POST:/api/v1/auth/register:slow"
    async with db.sessionmaker() as blocker:
        # Hold a lock the register transaction needs, so the first request stays in flight for real.
        await blocker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        first = asyncio.create_task(client.post(REGISTER, json=body, headers=idem("slow")))
        for _ in range(500):
            raw = await redis.get(key)
            if raw is not None:
                break
            await asyncio.sleep(0.01)
        assert raw is not None
        assert json.loads(raw)["state"] == "in_progress"
        second = await client.post(REGISTER, json=body, headers=idem("slow"))
        assert not first.done()
        await blocker.rollback()
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert 1 <= error["details"]["retry_after_seconds"] <= 60
    assert second.headers["retry-after"] == str(error["details"]["retry_after_seconds"])
    done = await first
    assert done.status_code == 201
    third = await client.post(REGISTER, json=body, headers=idem("slow"))
    assert third.status_code == 201
    assert third.headers["idempotent-replayed"] == "true"
    assert await count(db, Store) == 1


async def test_keys_are_scoped_per_user_and_store(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    alice = await register_buyer(client)
    bob = await register_buyer(client)
    invite = {"email": unique_email("shared"), "first_name": "S", "last_name": "H", "role": "staff"}
    a = await client.post(INVITE, json=invite, headers={**alice.headers, **idem("same")})
    b = await client.post(INVITE, json=invite, headers={**bob.headers, **idem("same")})
    assert a.status_code == 201
    assert b.status_code == 201
    assert "idempotent-replayed" not in b.headers
    assert a.json()["data"]["membership"]["store_id"] == str(alice.store_id)
    assert b.json()["data"]["membership"]["store_id"] == str(bob.store_id)
    keys = set(await redis.keys("pf:idempotency:*"))
    assert f"pf:idempotency:{alice.user_id}:{alice.store_id}:POST:/api/v1/stores/me/users/invite:same" in keys
    assert f"pf:idempotency:{bob.user_id}:{bob.store_id}:POST:/api/v1/stores/me/users/invite:same" in keys
    # the invitee was created once, then only added to Bob's store (its password untouched); Bob's answer
    # looks the same as Alice's (issue #17), with a value that opens nothing
    assert len(b.json()["data"]["temporary_password"]) == 16
    replay = await client.post(INVITE, json=invite, headers={**alice.headers, **idem("same")})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["data"]["temporary_password"] is None  # secrets are never stored
    assert replay.json()["data"]["membership"] == a.json()["data"]["membership"]


async def test_handled_4xx_is_stored_and_replayed(probe_client: httpx.AsyncClient, redis: Redis) -> None:
    from tests.fixtures.probes import calls

    account = await register_buyer(probe_client)
    first = await probe_client.post("/test/probe/conflict", headers={**account.headers, **idem("c")})
    assert first.status_code == 409
    replay = await probe_client.post("/test/probe/conflict", headers={**account.headers, **idem("c")})
    assert replay.status_code == 409
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert calls["conflict"] == 1
    key = f"pf:idempotency:{account.user_id}:{account.store_id}:POST:/test/probe/conflict:c"
    assert 6 * 86400 < await redis.ttl(key) <= 7 * 86400  # the critical TTL class


async def test_5xx_is_never_stored(probe_client: httpx.AsyncClient, redis: Redis) -> None:
    from tests.fixtures.probes import calls

    account = await register_buyer(probe_client)
    crashed = await probe_client.post("/test/probe/crash", headers={**account.headers, **idem("x")})
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "INTERNAL_ERROR"
    assert await redis.keys("pf:idempotency:*:crash*") == []
    retried = await probe_client.post("/test/probe/crash", headers={**account.headers, **idem("x")})
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert calls["crash"] == 2


async def test_refusals_before_the_handler_do_not_consume_the_key(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    account = await register_buyer(client)
    invite = {"email": unique_email(), "first_name": "S", "last_name": "H", "role": "staff"}
    unauthenticated = await client.post(INVITE, json=invite, headers=idem("k2"))
    assert unauthenticated.status_code == 401
    invalid = await client.post(
        INVITE, json={**invite, "role": "boss"}, headers={**account.headers, **idem("k2")}
    )
    assert invalid.status_code == 400
    assert await redis.keys("pf:idempotency:*invite*") == []
    ok = await client.post(INVITE, json=invite, headers={**account.headers, **idem("k2")})
    assert ok.status_code == 201


async def test_commit_failure_is_not_stored_and_leaves_nothing(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    account = await register_buyer(client)
    invite = {"email": unique_email("late"), "first_name": "L", "last_name": "F", "role": "staff"}
    async with db.transaction() as session:
        # A deferred constraint trigger fails the invite transaction at COMMIT, after the handler ran.
        await session.execute(
            text(
                "CREATE FUNCTION pf_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE CONSTRAINT TRIGGER pf_test_fail AFTER INSERT ON store_memberships "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pf_test_fail()"
            )
        )
    try:
        failed = await client.post(INVITE, json=invite, headers={**account.headers, **idem("late")})
    finally:
        async with db.transaction() as session:
            await session.execute(text("DROP TRIGGER pf_test_fail ON store_memberships"))
            await session.execute(text("DROP FUNCTION pf_test_fail()"))
    assert failed.status_code >= 500
    assert await redis.keys("pf:idempotency:*:late") == []
    async with db.transaction() as session:
        actions = (await session.scalars(text("SELECT action FROM audit_logs"))).all()
        users = (await session.scalars(select(User.email))).all()
    assert "member.invited" not in actions  # the audit row went down with its action
    assert invite["email"] not in users
    retried = await client.post(INVITE, json=invite, headers={**account.headers, **idem("late")})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def test_redis_down_on_lookup_is_503(make_client: Any, db: Database) -> None:
    http, app = await make_client()
    working = app.state.redis
    app.state.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        response = await http.post(REGISTER, json=register_body(), headers=idem())
    finally:
        await app.state.redis.aclose()
        app.state.redis = working
    assert response.status_code == 503
    assert response.json()["error"]["details"] == {"dependency": "redis"}
    assert await count(db, User) == 0


async def test_the_access_line_carries_the_outcome(client: httpx.AsyncClient, logs: LogCapture) -> None:
    body = register_body()
    for _ in range(2):  # stored, then replayed
        await client.post(REGISTER, json=body, headers=idem("o-1"))
    await client.post(REGISTER, json={**body, "company_name": "Other"}, headers=idem("o-1"))  # reused
    await client.get("/health/live")
    lines = [e for e in logs.events("request.complete") if e["route"] == REGISTER]
    assert [line.get("idempotency_outcome") for line in lines] == ["stored", "replayed", "reused"]
    assert logs.events("idempotency.outcome") == []  # no line of its own
