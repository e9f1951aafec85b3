"""Item 3 (issue #17): inviting and registering do not tell who has an account.

Before the fix, inviting an existing email returned that user's real names, id and last_login_at (and no
temporary password), and inviting an admin's email answered 409.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from packfinderz.auth.runtime import Identity, build_identity
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.factories import (
    Account,
    create_admin,
    idem,
    register_body,
    register_buyer,
    register_vendor,
    unique_email,
)

INVITE = "/api/v1/stores/me/users/invite"


def _shape(body: Any) -> Any:
    """The structure of a JSON value: keys and value types, not the values."""
    if isinstance(body, dict):
        return {key: _shape(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_shape(value) for value in body]
    return type(body).__name__


async def _invite(client: httpx.AsyncClient, owner: Account, email: str) -> httpx.Response:
    body = {"email": email, "first_name": "Typed", "last_name": "Name", "role": "staff"}
    return await client.post(INVITE, json=body, headers={**owner.headers, **idem()})


async def test_invite_answers_alike_for_new_existing_and_system_emails(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    owner = await register_buyer(client)
    existing = await register_vendor(client, first_name="Real", last_name="Person")
    await client.post(  # a login makes last_login_at non-null: it must not show
        "/api/v1/auth/login", json={"email": existing.email, "password": existing.password}
    )
    admin = await create_admin(db, settings)
    answers = [
        await _invite(client, owner, email) for email in (unique_email("new"), existing.email, admin.email)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    bodies = [a.json()["data"] for a in answers]
    assert _shape(bodies[0]) == _shape(bodies[1]) == _shape(bodies[2])
    for body in bodies:
        member = body["membership"]
        assert (member["first_name"], member["last_name"]) == ("Typed", "Name")
        assert member["last_login_at"] is None
        assert member["membership_status"] == "invited"
        assert len(body["temporary_password"]) == 16
    # the store's member list shows no more than the inviter typed, either
    listed = await client.get("/api/v1/stores/me/users", headers=owner.headers)
    invited = [m for m in listed.json()["data"]["items"] if m["membership_status"] == "invited"]
    assert {(m["first_name"], m["last_name"], m["last_login_at"]) for m in invited} == {
        ("Typed", "Name", None)
    }


class CountingPasswords:
    """Counts the Argon2 operations a request performs (the real hasher does the work)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def hash(self, password: str) -> str:
        self.calls.append("hash")
        result: str = await self.inner.hash(password)
        return result

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.calls.append("verify")
        result: bool = await self.inner.verify(password_hash, password)
        return result

    def needs_rehash(self, password_hash: str) -> bool:
        result: bool = self.inner.needs_rehash(password_hash)
        return result


@pytest.fixture
def counting(app: FastAPI) -> CountingPasswords:
    state = app.state
    runtime: Identity = build_identity(state.settings, state.db, state.redis)
    spy = CountingPasswords(runtime.passwords)
    runtime.passwords = spy  # type: ignore[assignment]
    state.identity = runtime
    return spy


async def test_registration_does_the_same_work_whether_or_not_the_email_exists(
    client: httpx.AsyncClient, counting: CountingPasswords
) -> None:
    existing = await register_buyer(client)
    counting.calls.clear()
    fresh = await client.post("/api/v1/auth/register", json=register_body(), headers=idem())
    assert fresh.status_code == 201, fresh.text
    new_email_work = sorted(counting.calls)
    counting.calls.clear()
    wrong = await client.post(
        "/api/v1/auth/register",
        json=register_body(email=existing.email, password="not the password at all"),
        headers=idem(),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "invalid credentials"  # the failed-login message
    assert sorted(counting.calls) == new_email_work == ["hash", "verify"]
