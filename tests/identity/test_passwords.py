"""Argon2id with the configured parameters, re-hash on login, temporary passwords (identity.md §6.2)."""

from __future__ import annotations

import uuid
from typing import Any

from argon2 import Type, extract_parameters
from sqlalchemy import select

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.security import Passwords, password_hasher, temporary_password
from packfinderz.models import User
from tests.fixtures.factories import DEFAULT_PASSWORD, login, register_buyer


async def stored_hash(db: Database, user_id: uuid.UUID) -> str:
    async with db.transaction() as session:
        return (await session.scalars(select(User.password_hash).where(User.id == user_id))).one()


async def test_register_hashes_with_the_configured_argon2id_parameters(
    make_client: Any, db: Database
) -> None:
    http, _ = await make_client(
        argon_memory_kb=2048, argon_time=2, argon_parallelism=2, argon_salt_len=12, argon_key_len=24
    )
    account = await register_buyer(http)
    phc = await stored_hash(db, account.user_id)
    assert phc.startswith("$argon2id$v=19$m=2048,t=2,p=2$")
    params = extract_parameters(phc)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 2048, 2, 2)
    assert (params.salt_len, params.hash_len) == (12, 24)
    assert DEFAULT_PASSWORD not in phc


async def test_login_rehashes_when_the_parameters_change(make_client: Any, db: Database) -> None:
    old_http, _ = await make_client(argon_memory_kb=1024, argon_time=1)
    account = await register_buyer(old_http)
    before = await stored_hash(db, account.user_id)
    new_http, _ = await make_client(argon_memory_kb=4096, argon_time=2)
    await login(new_http, account.email, account.password)
    after = await stored_hash(db, account.user_id)
    assert after != before
    assert (extract_parameters(after).memory_cost, extract_parameters(after).time_cost) == (4096, 2)
    await login(new_http, account.email, account.password)  # the new hash verifies
    assert await stored_hash(db, account.user_id) == after  # and is not re-hashed again


def test_parameters_are_clamped(settings: Settings) -> None:
    extreme = settings.model_copy(
        update={
            "argon_memory_kb": 1,
            "argon_time": 99,
            "argon_parallelism": 0,
            "argon_salt_len": 2,
            "argon_key_len": 999,
        }
    )
    params = extract_parameters(password_hasher(extreme).hash("password1"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (8, 10, 1)
    assert (params.salt_len, params.hash_len) == (8, 64)


async def test_unknown_hash_never_verifies(settings: Settings) -> None:
    passwords = Passwords(settings)
    assert await passwords.verify(None, "anything") is False
    assert await passwords.verify("not-a-phc-string", "anything") is False
    phc = await passwords.hash("the password")
    assert await passwords.verify(phc, "the password") is True
    assert await passwords.verify(phc, "the passwore") is False


def test_temporary_passwords() -> None:
    seen = {temporary_password() for _ in range(200)}
    assert len(seen) == 200
    assert all(len(p) == 16 and p.isascii() and p.isalnum() for p in seen)
    alphabet = set("".join(seen))
    assert any(c.isupper() for c in alphabet)
    assert any(c.islower() for c in alphabet)
    assert any(c.isdigit() for c in alphabet)
