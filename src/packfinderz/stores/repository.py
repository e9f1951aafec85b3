"""Store and membership queries; every query takes the store id explicitly."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, TypeVarTuple

from sqlalchemy import Select, bindparam, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.identity import Store, StoreMembership, User
from packfinderz.models.licenses import License

_Ts = TypeVarTuple("_Ts")


async def get_store(session: AsyncSession, store_id: uuid.UUID, *, lock: bool = False) -> Store | None:
    """The store row (locked FOR UPDATE when asked: member changes are serialized per store)."""
    query = select(Store).where(Store.id == store_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


# Built once: it runs on every store-scoped request (the expression costs as much CPU as the query).
_ACTIVE_MEMBERSHIP = (
    select(Store, StoreMembership.role)
    .join(StoreMembership, StoreMembership.store_id == Store.id)
    .where(
        StoreMembership.user_id == bindparam("user_id"),
        StoreMembership.store_id == bindparam("store_id"),
        StoreMembership.status == "active",
    )
)


async def active_membership(
    session: AsyncSession, user_id: uuid.UUID, store_id: uuid.UUID
) -> tuple[Store, str] | None:
    """(store, role) when the user holds an active membership in the store, else None."""
    row = (
        await session.execute(_ACTIVE_MEMBERSHIP, {"user_id": user_id, "store_id": store_id})
    ).one_or_none()
    return (row[0], row[1]) if row else None


async def get_membership(
    session: AsyncSession, store_id: uuid.UUID, user_id: uuid.UUID
) -> StoreMembership | None:
    """The (store, user) membership in any status."""
    return (
        await session.scalars(
            select(StoreMembership).where(
                StoreMembership.store_id == store_id, StoreMembership.user_id == user_id
            )
        )
    ).one_or_none()


async def active_stores_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Store, str]]:
    """The user's active memberships as (store, role), ordered by company name then id."""
    rows = await session.execute(
        select(Store, StoreMembership.role)
        .join(StoreMembership, StoreMembership.store_id == Store.id)
        .where(StoreMembership.user_id == user_id, StoreMembership.status == "active")
        .order_by(Store.company_name, Store.id)
    )
    return [(store, role) for store, role in rows.all()]


async def _membership_page(
    session: AsyncSession, query: Select[*_Ts], page: PageParams, membership_at: int
) -> tuple[list[tuple[*_Ts]], str | None]:
    """One page of `query` (rows holding a StoreMembership at `membership_at`), newest membership first."""
    after = after_cursor_desc(StoreMembership.created_at, StoreMembership.id, page.cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(StoreMembership.created_at.desc(), StoreMembership.id.desc()).limit(page.limit + 1)
    rows: list[tuple[*_Ts]] = list((await session.execute(query)).all())
    items, cursor = build_page([row[membership_at] for row in rows], page.limit)
    return rows[: len(items)], cursor


async def pending_invitations(
    session: AsyncSession, user_id: uuid.UUID, page: PageParams | None = None
) -> tuple[list[tuple[StoreMembership, Store]], str | None]:
    """The user's unexpired `invited` memberships with their stores, newest first."""
    query = (
        select(StoreMembership, Store)
        .join(Store, Store.id == StoreMembership.store_id)
        .where(
            StoreMembership.user_id == user_id,
            StoreMembership.status == "invited",
            StoreMembership.invite_expires_at > func.now(),
        )
    )
    if page is None:
        rows = (await session.execute(query.limit(1))).all()
        return [(m, s) for m, s in rows], None
    return await _membership_page(session, query, page, 0)


async def invitation_of(
    session: AsyncSession, membership_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[StoreMembership, Store] | None:
    """One membership of this user (locked), with its store; None when it is not theirs."""
    row = (
        await session.execute(
            select(StoreMembership, Store)
            .join(Store, Store.id == StoreMembership.store_id)
            .where(StoreMembership.id == membership_id, StoreMembership.user_id == user_id)
            .with_for_update(of=StoreMembership)
        )
    ).one_or_none()
    return (row[0], row[1]) if row else None


async def touch_last_active(session: AsyncSession, store_id: uuid.UUID) -> None:
    """Set the store's last_active_at to now (store selected at login or switch)."""
    await session.execute(update(Store).where(Store.id == store_id).values(last_active_at=func.now()))


async def insert_store(session: AsyncSession, **values: Any) -> Store:
    """Insert a store and return it with its server defaults loaded."""
    store = Store(id=uuid.uuid4(), **values)
    session.add(store)
    await session.flush()
    await session.refresh(store)
    return store


async def insert_membership(
    session: AsyncSession,
    *,
    store_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    status: str,
    invited_by_user_id: uuid.UUID | None = None,
    **invitation: Any,
) -> StoreMembership:
    """Insert a membership and return it with its timestamps loaded."""
    membership = StoreMembership(
        id=uuid.uuid4(),
        store_id=store_id,
        user_id=user_id,
        role=role,
        status=status,
        invited_by_user_id=invited_by_user_id,
        **invitation,
    )
    session.add(membership)
    await session.flush()
    await session.refresh(membership)
    return membership


async def members_page(
    session: AsyncSession, store_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[StoreMembership, User]], str | None]:
    """The store's memberships with their users, newest first."""
    query = (
        select(StoreMembership, User)
        .join(User, User.id == StoreMembership.user_id)
        .where(StoreMembership.store_id == store_id)
    )
    return await _membership_page(session, query, page, 0)


async def member_with_user(
    session: AsyncSession, store_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[StoreMembership, User] | None:
    """One membership of the store with its user."""
    row = (
        await session.execute(
            select(StoreMembership, User)
            .join(User, User.id == StoreMembership.user_id)
            .where(StoreMembership.store_id == store_id, StoreMembership.user_id == user_id)
        )
    ).one_or_none()
    return (row[0], row[1]) if row else None


async def count_other_active_owners(session: AsyncSession, store_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Active owners of the store other than this user."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(StoreMembership)
            .where(
                StoreMembership.store_id == store_id,
                StoreMembership.role == "owner",
                StoreMembership.status == "active",
                StoreMembership.user_id != user_id,
            )
        )
        or 0
    )


async def delete_membership(session: AsyncSession, membership_id: uuid.UUID) -> None:
    await session.execute(delete(StoreMembership).where(StoreMembership.id == membership_id))


async def my_stores_page(
    session: AsyncSession, user_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[Store, StoreMembership]], str | None]:
    """The user's active memberships with their stores, newest membership first."""
    query = (
        select(Store, StoreMembership)
        .join(StoreMembership, StoreMembership.store_id == Store.id)
        .where(StoreMembership.user_id == user_id, StoreMembership.status == "active")
    )
    return await _membership_page(session, query, page, 1)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def update_store(session: AsyncSession, store: Store, changes: dict[str, Any]) -> Store:
    """Apply column changes to a store and return it refreshed (updated_at moves)."""
    for name, value in changes.items():
        setattr(store, name, value)
    store.updated_at = func.now()
    await session.flush()
    await session.refresh(store)
    return store


_PARTIES = (
    select(
        Store,
        select(
            func.coalesce(
                func.bool_or(or_(License.expiration_date.is_(None), License.expiration_date > func.now())),
                true(),
            )
        )
        .where(License.store_id == Store.id, License.status == "verified")
        .scalar_subquery()
        .label("licensed"),
    )
    .where(Store.id.in_(bindparam("store_ids", expanding=True)))
    .execution_options(populate_existing=True)
)


async def parties(
    session: AsyncSession, store_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[Store, bool]]:
    """Stores read fresh, each with whether its licensing still holds right now.

    A store whose verified licenses have all passed their expiration date is treated as unlicensed even
    before the daily lifecycle job marks them expired (its KYC status still says verified until then).
    """
    rows = await session.execute(_PARTIES, {"store_ids": list(store_ids)})
    return {row[0].id: (row[0], bool(row[1])) for row in rows}
