"""User queries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.identity import Store, StoreMembership, User


async def by_email(session: AsyncSession, email: str, *, lock: bool = False) -> User | None:
    """The user with this (already normalized) email."""
    query = select(User).where(User.email == email)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def by_id(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    query = select(User).where(User.id == user_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def insert_user(session: AsyncSession, **values: Any) -> User:
    """Insert a user and return it with its server defaults loaded."""
    user = User(id=uuid.uuid4(), **values)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    return user


async def insert_user_if_absent(session: AsyncSession, **values: Any) -> User | None:
    """Insert a user unless the email is taken (a concurrent insert included); None when it was."""
    user_id = await session.scalar(
        insert(User)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    return await by_id(session, user_id) if user_id is not None else None


async def update_user(session: AsyncSession, user: User, **values: Any) -> User:
    """Update columns of a user (updated_at moves) and return it refreshed."""
    await session.execute(update(User).where(User.id == user.id).values(**values, updated_at=func.now()))
    await session.refresh(user)
    return user


async def users_page(
    session: AsyncSession,
    page: PageParams,
    *,
    email_prefix: str | None = None,
    system_role: str | None = None,
    system_users_only: bool = False,
    is_active: bool | None = None,
) -> tuple[list[User], str | None]:
    """Users matching the filters, newest first."""
    query = select(User)
    if email_prefix:
        escaped = email_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(User.email.like(escaped + "%", escape="\\"))
    if system_role is not None:
        query = query.where(User.system_role == system_role)
    elif system_users_only:
        query = query.where(User.system_role.is_not(None))
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    after = after_cursor_desc(User.created_at, User.id, page.cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(User.created_at.desc(), User.id.desc()).limit(page.limit + 1)
    return build_page((await session.scalars(query)).all(), page.limit)


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[StoreMembership, Store]]:
    """Every membership of the user (any status) with its store, by company name."""
    rows = await session.execute(
        select(StoreMembership, Store)
        .join(Store, Store.id == StoreMembership.store_id)
        .where(StoreMembership.user_id == user_id)
        .order_by(Store.company_name, Store.id)
    )
    return [(m, s) for m, s in rows.all()]
