"""SQL of the store and admin inboxes, and the read-only lookups the notifications consumer needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import Cursor, after_cursor_desc
from packfinderz.models.notifications import AdminNotification, Notification
from packfinderz.notifications.rules import LicenseFacts, OrderFacts

Inbox = type[Notification] | type[AdminNotification]


# --- writes of the consumer ------------------------------------------------------------------------


async def insert_store_notices(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert store notices; ids already present are skipped. Returns how many were new."""
    if not rows:
        return 0
    result = await session.execute(
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Notification.id)
    )
    return len(result.all())


async def insert_admin_notices(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert admin notices; ids already present are skipped. Returns how many were new."""
    if not rows:
        return 0
    result = await session.execute(
        insert(AdminNotification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(AdminNotification.id)
    )
    return len(result.all())


# --- lookups in other domains' tables (which may not exist yet) -----------------------------------


async def _table_exists(session: AsyncSession, name: str) -> bool:
    found = await session.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})
    return bool(found.scalar_one())


async def license_facts(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, LicenseFacts]:
    """License numbers and stores by id (empty while the licenses table does not exist)."""
    if not ids or not await _table_exists(session, "licenses"):
        return {}
    rows = await session.execute(
        text("SELECT id, number, store_id FROM licenses WHERE id = ANY(:ids)"), {"ids": list(ids)}
    )
    return {r.id: LicenseFacts(number=r.number, store_id=r.store_id) for r in rows}


async def order_facts(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, OrderFacts]:
    """Order numbers, parties and status by id (empty while the vendor_orders table does not exist)."""
    if not ids or not await _table_exists(session, "vendor_orders"):
        return {}
    rows = await session.execute(
        text(
            "SELECT id, order_number, buyer_store_id, vendor_store_id, status "
            "FROM vendor_orders WHERE id = ANY(:ids)"
        ),
        {"ids": list(ids)},
    )
    return {
        r.id: OrderFacts(
            id=r.id,
            order_number=r.order_number,
            buyer_store_id=r.buyer_store_id,
            vendor_store_id=r.vendor_store_id,
            status=r.status,
        )
        for r in rows
    }


async def store_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names (DBA, else company name) of existing stores."""
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT id, COALESCE(dba_name, company_name) AS name FROM stores WHERE id = ANY(:ids)"),
        {"ids": list(ids)},
    )
    return {r.id: r.name for r in rows}


async def existing_store_ids(session: AsyncSession, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The ids among these that are stores (a notice for a deleted store is not written)."""
    if not ids:
        return set()
    rows = await session.execute(text("SELECT id FROM stores WHERE id = ANY(:ids)"), {"ids": list(ids)})
    return {r.id for r in rows}


# --- inbox reads and writes (HTTP) ----------------------------------------------------------------


def _scope(model: Inbox, store_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    if model is Notification:
        assert store_id is not None
        return [Notification.store_id == store_id]
    return []


async def list_page(
    session: AsyncSession,
    model: Inbox,
    *,
    store_id: uuid.UUID | None,
    unread_only: bool,
    limit: int,
    cursor: Cursor | None,
) -> Sequence[Any]:
    """`limit + 1` rows in created_at DESC, id DESC order after the cursor."""
    statement: Select[Any] = select(model).where(*_scope(model, store_id))
    if unread_only:
        statement = statement.where(model.read_at.is_(None))
    after = after_cursor_desc(model.created_at, model.id, cursor)
    if after is not None:
        statement = statement.where(after)
    statement = statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars().all())


async def unread_count(session: AsyncSession, model: Inbox, *, store_id: uuid.UUID | None) -> int:
    statement = (
        select(func.count()).select_from(model).where(*_scope(model, store_id), model.read_at.is_(None))
    )
    return int((await session.execute(statement)).scalar_one())


async def mark_read(
    session: AsyncSession, model: Inbox, notification_id: uuid.UUID, *, store_id: uuid.UUID | None
) -> Any | None:
    """Set read_at once (an already-read notice keeps its first read time); None when not found."""
    await session.execute(
        update(model)
        .where(model.id == notification_id, *_scope(model, store_id), model.read_at.is_(None))
        .values(read_at=func.now())
    )
    found = await session.execute(
        select(model)
        .where(model.id == notification_id, *_scope(model, store_id))
        .execution_options(populate_existing=True)
    )
    return found.scalar_one_or_none()


async def mark_all_read(session: AsyncSession, model: Inbox, *, store_id: uuid.UUID | None) -> int:
    result = await session.execute(
        update(model).where(*_scope(model, store_id), model.read_at.is_(None)).values(read_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- retention --------------------------------------------------------------------------------------


async def delete_older_than(session: AsyncSession, model: Inbox, age_seconds: float, batch: int) -> int:
    """Delete up to `batch` notices older than the age; how many were deleted."""
    oldest = (
        select(model.id)
        .where(model.created_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, age_seconds))
        .limit(batch)
        .scalar_subquery()
    )
    result = await session.execute(delete(model).where(model.id.in_(oldest)))
    return int(result.rowcount)  # type: ignore[attr-defined]
