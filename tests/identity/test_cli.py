"""`packfinderz users ...` as a subprocess against the test database and Redis (identity.md §7)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import select
from typer.testing import CliRunner

from packfinderz.auth.cli import users_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.models import AuditLog, User
from tests.fixtures.factories import DEFAULT_PASSWORD, auth_headers, login, unique_email

PACKFINDERZ = str(Path(sys.executable).with_name("packfinderz"))


@dataclass
class Run:
    code: int
    out: str
    err: str


async def cli(settings: Settings, *args: str, stdin: str | None = None) -> Run:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PACKFINDERZ_APP_ENV": "test",
        "PACKFINDERZ_DB_DSN": settings.database_url or "",
        "PACKFINDERZ_REDIS_URL": settings.redis_connection_url or "",
        "PACKFINDERZ_ARGON_MEMORY_KB": "1024",
        "PACKFINDERZ_ARGON_TIME": "1",
        "PACKFINDERZ_LOG_LEVEL": "error",
    }
    process = await asyncio.create_subprocess_exec(
        PACKFINDERZ,
        "users",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_create_list_and_refuse_duplicates(
    settings: Settings, client: httpx.AsyncClient, db: Database
) -> None:
    admin_email, agent_email = unique_email("ops"), unique_email("agent")
    run = await cli(
        settings,
        "create",
        "--role",
        "admin",
        "--email",
        admin_email.upper(),
        "--password-stdin",
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert run.code == 0, run.err
    assert "created admin" in run.out
    assert admin_email in run.out
    assert DEFAULT_PASSWORD not in run.out + run.err
    account = await login(client, admin_email, DEFAULT_PASSWORD, admin=True)
    assert account.body["user"]["system_role"] == "admin"

    run = await cli(
        settings,
        "create",
        "--role",
        "agent",
        "--email",
        agent_email,
        "--first-name",
        "Dee",
        "--phone",
        "+1 555 0100",
    )
    assert run.code == 0, run.err
    temporary = run.out.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert len(temporary) == 16
    assert temporary.isalnum()
    agent = await login(client, agent_email, temporary)
    assert agent.body["user"]["must_change_password"] is True
    assert agent.body["user"]["first_name"] == "Dee"
    gated = await client.get("/api/v1/stores/my", headers=agent.headers)
    assert gated.status_code == 403
    assert gated.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"

    everyone = await cli(settings, "list")
    assert everyone.code == 0
    assert admin_email in everyone.out
    assert agent_email in everyone.out
    agents = await cli(settings, "list", "--role", "agent")
    assert agent_email in agents.out
    assert admin_email not in agents.out
    assert "active" in agents.out

    duplicate = await cli(
        settings, "create", "--role", "admin", "--email", agent_email, "--password", DEFAULT_PASSWORD
    )
    assert duplicate.code == 1
    assert "email already registered" in duplicate.err
    async with db.transaction() as session:
        assert len((await session.scalars(select(User))).all()) == 2
        rows = (await session.scalars(select(AuditLog).where(AuditLog.action == "user.created"))).all()
    assert {(r.actor_role, r.actor_user_id, r.payload["system_role"]) for r in rows} == {
        ("system", None, "admin"),
        ("system", None, "agent"),
    }
    assert all(r.payload["via"] == "cli" and len(r.request_id or "") == 36 for r in rows)  # the run's UUID


def test_usage_and_validation_errors_exit_before_touching_anything() -> None:
    runner = CliRunner()
    for args, code, fragment in (
        (["create", "--role", "owner", "--email", "a@example.com"], 2, ""),
        (
            [
                "create",
                "--role",
                "admin",
                "--email",
                "a@example.com",
                "--password",
                "x" * 8,
                "--password-stdin",
            ],
            2,
            "either",
        ),
        (["create", "--role", "admin", "--email", "a@example.com", "--password", "short"], 1, "--password"),
        (
            ["create", "--role", "admin", "--email", "not-an-email", "--password", DEFAULT_PASSWORD],
            1,
            "--email",
        ),
        (
            [
                "create",
                "--role",
                "admin",
                "--email",
                "a@example.com",
                "--phone",
                "",
                "--password",
                DEFAULT_PASSWORD,
            ],
            1,
            "--phone",
        ),
    ):
        result = runner.invoke(users_app, args)
        assert result.exit_code == code, (args, result.output)
        assert fragment in result.output


async def test_reset_password_and_deactivate_revoke_sessions(
    settings: Settings, client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    email = unique_email("agent")
    await cli(settings, "create", "--role", "agent", "--email", email, "--password", DEFAULT_PASSWORD)
    account = await login(client, email, DEFAULT_PASSWORD)
    assert (
        await client.post("/api/v1/auth/logout", headers=auth_headers(account.access_token))
    ).status_code == 200
    account = await login(client, email, DEFAULT_PASSWORD)

    reset = await cli(settings, "reset-password", "--email", email)
    assert reset.code == 0, reset.err
    temporary = reset.out.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert (await client.post("/api/v1/auth/logout", headers=account.headers)).status_code == 200
    assert await redis.smembers(f"pf:session:user:{account.user_id}") == set()
    account = await login(client, email, temporary)
    assert account.body["user"]["must_change_password"] is True

    deactivated = await cli(settings, "deactivate", "--email", email)
    assert deactivated.code == 0, deactivated.err
    refused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}, headers=account.headers
    )
    assert refused.status_code == 401
    login_refused = await client.post("/api/v1/auth/login", json={"email": email, "password": temporary})
    assert login_refused.status_code == 401
    assert (await cli(settings, "activate", "--email", email)).code == 0
    await login(client, email, temporary)
    unknown = await cli(settings, "reset-password", "--email", unique_email())
    assert unknown.code == 1
    assert "user not found" in unknown.err
    async with db.transaction() as session:
        actions = [
            r.action for r in (await session.scalars(select(AuditLog).order_by(AuditLog.created_at))).all()
        ]
    for action in ("user.created", "auth.password_reset", "user.deactivated", "user.activated"):
        assert action in actions
