"""Wishlist SQL: idempotent add, remove, and the visible page of a store's wishlist rows."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.catalog.repository.search import SUMMARY_COLUMNS, with_summary_joins
from packfinderz.kit.pagination import PageParams, after_cursor_desc
from packfinderz.models.catalog import InventoryItem, Product
from packfinderz.models.social import WishlistItem

P = Product.__table__
INV = InventoryItem.__table__
W = WishlistItem.__table__


async def add(session: AsyncSession, store_id: uuid.UUID, product_id: uuid.UUID) -> tuple[datetime, bool]:
    """Insert the row unless present; (its created_at, whether this call created it)."""
    created = (
        await session.execute(
            insert(WishlistItem)
            .values(store_id=store_id, product_id=product_id)
            .on_conflict_do_nothing(index_elements=["store_id", "product_id"])
            .returning(W.c.created_at)
        )
    ).scalar_one_or_none()
    if created is not None:
        return created, True
    existing = (
        await session.execute(
            select(W.c.created_at).where(W.c.store_id == store_id, W.c.product_id == product_id)
        )
    ).scalar_one()
    return existing, False


async def remove(session: AsyncSession, store_id: uuid.UUID, product_id: uuid.UUID) -> None:
    await session.execute(delete(WishlistItem).where(W.c.store_id == store_id, W.c.product_id == product_id))


def visible(store_id: uuid.UUID, vendor_ids: Collection[uuid.UUID]) -> ColumnElement[bool]:
    """Active products of the caller's own store or of the vendors its gate lets it see."""
    vendors = bindparam("visible_store_ids", [store_id, *vendor_ids], type_=ARRAY(PgUUID(as_uuid=True)))
    return and_(P.c.is_active, P.c.store_id == any_(vendors))


def _mine(store_id: uuid.UUID, vendor_ids: Collection[uuid.UUID]) -> list[ColumnElement[bool]]:
    return [W.c.store_id == store_id, visible(store_id, vendor_ids)]


async def page(
    session: AsyncSession, store_id: uuid.UUID, vendor_ids: Collection[uuid.UUID], params: PageParams
) -> list[Row[Any]]:
    """limit + 1 visible wishlist rows, newest first, with every ProductSummary column."""
    after = after_cursor_desc(W.c.created_at, W.c.id, params.cursor)
    query: Select[Any] = (
        with_summary_joins(
            select(W.c.id.label("wishlist_id"), W.c.created_at.label("wishlisted_at"), *SUMMARY_COLUMNS)
            .select_from(W)
            .join(P, P.c.id == W.c.product_id)
        )
        .where(*_mine(store_id, vendor_ids), *([after] if after is not None else []))
        .order_by(W.c.created_at.desc(), W.c.id.desc())
        .limit(params.limit + 1)
    )
    return list((await session.execute(query)).all())


async def ids_page(
    session: AsyncSession, store_id: uuid.UUID, vendor_ids: Collection[uuid.UUID], params: PageParams
) -> list[Row[Any]]:
    """limit + 1 visible wishlist rows (id, created_at, product_id), newest first."""
    after = after_cursor_desc(W.c.created_at, W.c.id, params.cursor)
    query: Select[Any] = (
        select(W.c.id, W.c.created_at, W.c.product_id)
        .select_from(W)
        .join(P, P.c.id == W.c.product_id)
        .where(*_mine(store_id, vendor_ids), *([after] if after is not None else []))
        .order_by(W.c.created_at.desc(), W.c.id.desc())
        .limit(params.limit + 1)
    )
    return list((await session.execute(query)).all())


async def count(session: AsyncSession, store_id: uuid.UUID, vendor_ids: Collection[uuid.UUID]) -> int:
    """How many wishlist rows are visible to the store."""
    query = (
        select(func.count())
        .select_from(W)
        .join(P, P.c.id == W.c.product_id)
        .where(*_mine(store_id, vendor_ids))
    )
    return int((await session.execute(query)).scalar_one())
