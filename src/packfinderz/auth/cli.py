"""`packfinderz users create|list|reset-password|activate|deactivate` (identity.md §7).

System roles have no public sign-up. Exit codes: 0 ok, 1 validation or conflict, 2 usage. Every change
is audited in its own transaction with `actor_role = system` and `request_id` = this run's UUID.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth import service
from packfinderz.auth.runtime import Identity, build_identity
from packfinderz.auth.schemas import Password
from packfinderz.kit.boot import process_settings
from packfinderz.kit.db import create_database
from packfinderz.kit.errors import AppError
from packfinderz.kit.pagination import PageParams
from packfinderz.kit.redis import create_redis
from packfinderz.kit.schemas import Email, Name, Phone

users_app = typer.Typer(no_args_is_help=True, help="Operator accounts: admins and delivery agents.")
T = TypeVar("T")


class SystemRole(StrEnum):
    admin = "admin"
    agent = "agent"


def _check(adapter: Any, value: Any, option: str) -> Any:
    try:
        return TypeAdapter(adapter).validate_python(value)
    except ValidationError as exc:
        typer.echo(f"users: {option} {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(1) from None


def _run(work: Callable[[AsyncSession, Identity, str], Awaitable[T]]) -> T:
    """Run `work(session, identity, run_id)` in one transaction; AppErrors exit 1 with their message."""
    settings = process_settings({"db", "app"}, "cli")
    run_id = str(uuid.uuid4())

    async def main() -> T:
        database, redis = create_database(settings), create_redis(settings)
        try:
            identity = build_identity(settings, database, redis)
            async with database.transaction() as session:
                return await work(session, identity, run_id)
        finally:
            await redis.aclose()
            await database.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        typer.echo(f"users: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except RedisError as exc:
        typer.echo(f"users: redis unavailable ({type(exc).__name__}); nothing changed", err=True)
        raise typer.Exit(1) from None


@users_app.command("create")
def create(
    *,
    role: Annotated[SystemRole, typer.Option(help="System role.")],
    email: Annotated[str, typer.Option(help="Email address (login).")],
    first_name: Annotated[str | None, typer.Option(help="Defaults to the role.")] = None,
    last_name: Annotated[str, typer.Option(help="Last name.")] = "User",
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (8..256 chars); prefer --password-stdin.")
    ] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create an active system user; without a password a temporary one is printed once (must be changed)."""
    if password is not None and password_stdin:
        typer.echo("users create: use either --password or --password-stdin", err=True)
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    email = _check(Email, email, "--email")
    first = _check(Name, first_name or role.value.title(), "--first-name")
    last = _check(Name, last_name, "--last-name")
    phone = _check(Phone | None, phone, "--phone")
    if password is not None:
        password = _check(Password, password, "--password")

    async def work(session: AsyncSession, identity: Identity, run_id: str) -> tuple[Any, str | None]:
        return await service.create_system_user(
            session,
            identity.passwords,
            role=role.value,
            email=email,
            first_name=first,
            last_name=last,
            phone=phone,
            password=password,
            request_id=run_id,
        )

    user, temporary = _run(work)
    typer.echo(f"created {role.value} {user.id} {user.email}")
    if temporary is not None:
        typer.echo(f"temporary password (shown once, must be changed at first login): {temporary}")


@users_app.command("list")
def list_users(
    role: Annotated[SystemRole | None, typer.Option(help="Only this system role.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 100,
) -> None:
    """List system users: id, email, role, active, created."""

    async def work(session: AsyncSession, _: Identity, __: str) -> list[Any]:
        rows, _cursor = await service.system_users(session, role.value if role else None, PageParams(limit))
        return rows

    rows = _run(work)
    for user in rows:
        state = "active" if user.is_active else "inactive"
        typer.echo(f"{user.id}  {user.email}  {user.system_role}  {state}  {user.created_at.isoformat()}")
    if not rows:
        typer.echo("no system users")


@users_app.command("reset-password")
def reset_password(email: Annotated[str, typer.Option(help="The user's email.")]) -> None:
    """Print a temporary password once, require a change, and revoke every session of the user."""

    async def work(session: AsyncSession, identity: Identity, run_id: str) -> tuple[uuid.UUID, str]:
        user_id = await service.user_id_by_email(session, email)
        user, temporary = await service.reset_password(
            session, identity.passwords, user_id, actor=None, via="cli", request_id=run_id
        )
        await identity.sessions.revoke_all(user.id)
        return user.id, temporary

    user_id, temporary = _run(work)
    typer.echo(f"password reset for {user_id}; sessions revoked")
    typer.echo(f"temporary password (shown once, must be changed at first login): {temporary}")


def _set_active(email: str, active: bool) -> None:
    async def work(session: AsyncSession, identity: Identity, run_id: str) -> uuid.UUID:
        user = await service.set_user_active(session, email, active=active, request_id=run_id)
        if not active:
            await identity.sessions.revoke_all(user.id)
        return user.id

    user_id = _run(work)
    typer.echo(f"{'activated' if active else 'deactivated'} {user_id}")


@users_app.command("activate")
def activate(email: Annotated[str, typer.Option(help="The user's email.")]) -> None:
    """Allow the user to log in again."""
    _set_active(email, True)


@users_app.command("deactivate")
def deactivate(email: Annotated[str, typer.Option(help="The user's email.")]) -> None:
    """Refuse the user's logins and revoke all their sessions."""
    _set_active(email, False)
