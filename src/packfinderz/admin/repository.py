"""Queries of the admin store pages (every store; admins have no store context)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.db import like_pattern
from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.identity import Store, StoreMembership, User


@dataclass(frozen=True)
class StoreFilters:
    """Filters of GET /api/admin/v1/stores; `q` is a company/DBA name substring."""

    kyc_status: str | None = None
    type: str | None = None
    subscription_active: bool | None = None
    q: str | None = None


async def stores_page(
    session: AsyncSession, filters: StoreFilters, page: PageParams
) -> tuple[list[Store], str | None, int]:
    """Stores matching the filters, newest first, and the size of the whole filtered set."""
    conditions = []
    for column, value in (
        (Store.kyc_status, filters.kyc_status),
        (Store.type, filters.type),
        (Store.subscription_active, filters.subscription_active),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.q:
        pattern = like_pattern(filters.q)
        conditions.append(
            or_(Store.company_name.ilike(pattern, escape="\\"), Store.dba_name.ilike(pattern, escape="\\"))
        )
    total = int(await session.scalar(select(func.count()).select_from(Store).where(*conditions)) or 0)
    query = select(Store).where(*conditions)
    after = after_cursor_desc(Store.created_at, Store.id, page.cursor)
    if after is not None:
        query = query.where(after)
    rows = (
        await session.scalars(query.order_by(Store.created_at.desc(), Store.id.desc()).limit(page.limit + 1))
    ).all()
    items, cursor = build_page(rows, page.limit)
    return items, cursor, total


async def users_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    """Users by id, in one query."""
    if not ids:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(set(ids))))}


async def members_of(session: AsyncSession, store_id: uuid.UUID) -> list[tuple[StoreMembership, User]]:
    """Every membership of a store with its user, oldest first."""
    rows = await session.execute(
        select(StoreMembership, User)
        .join(User, User.id == StoreMembership.user_id)
        .where(StoreMembership.store_id == store_id)
        .order_by(StoreMembership.created_at, StoreMembership.id)
    )
    return [(membership, user) for membership, user in rows.all()]
