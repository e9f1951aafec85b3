"""Inventory SQL: the vendor's stock rows and every stock movement (reserve, release, consume)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    false,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.catalog.search import SortCursor
from packfinderz.models.catalog import (
    InventoryItem,
    Product,
)

P = Product.__table__
INV = InventoryItem.__table__

# --- inventory -------------------------------------------------------------------------------------


async def get_inventory(session: AsyncSession, product_id: uuid.UUID) -> InventoryItem | None:
    return await session.get(InventoryItem, product_id, populate_existing=True)


async def lock_inventory(session: AsyncSession, product_id: uuid.UUID) -> InventoryItem | None:
    """The product's inventory row, locked FOR UPDATE and read fresh."""
    return (
        await session.scalars(
            select(InventoryItem)
            .where(InventoryItem.product_id == product_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def set_inventory(
    session: AsyncSession, product_id: uuid.UUID, available_qty: int, low_stock_threshold: int
) -> InventoryItem:
    """Write the vendor's stock figures (reserved_qty is never client-set) and return the row."""
    await session.execute(
        insert(InventoryItem)
        .values(product_id=product_id, available_qty=available_qty, low_stock_threshold=low_stock_threshold)
        .on_conflict_do_update(
            index_elements=[InventoryItem.product_id],
            set_={
                "available_qty": available_qty,
                "low_stock_threshold": low_stock_threshold,
                "updated_at": func.now(),
            },
        )
    )
    row = await session.get(InventoryItem, product_id, populate_existing=True)
    assert row is not None
    return row


async def inventory_page(
    session: AsyncSession, store_id: uuid.UUID, limit: int, cursor: SortCursor | None
) -> list[Row[Any]]:
    """limit + 1 of the store's inventory rows with sku and title, newest product first."""
    where: list[ColumnElement[bool]] = [P.c.store_id == store_id]
    if cursor is not None:
        where.append(tuple_(P.c.created_at, P.c.id) < tuple_(literal(cursor.key), literal(cursor.id)))
    query: Select[Any] = (
        select(
            P.c.id.label("product_id"),
            P.c.sku,
            P.c.title,
            P.c.is_active,
            P.c.created_at,
            INV.c.available_qty,
            INV.c.reserved_qty,
            INV.c.low_stock_threshold,
            INV.c.updated_at,
        )
        .join(INV, INV.c.product_id == P.c.id)
        .where(*where)
        .order_by(P.c.created_at.desc(), P.c.id.desc())
        .limit(limit + 1)
    )
    return list((await session.execute(query)).all())


@dataclass(frozen=True)
class Reservation:
    """What `reserve` did: per product whether it was reserved, and which products went low on it."""

    reserved: dict[uuid.UUID, bool]
    went_low: list[uuid.UUID]


@functools.cache
def _move_statement(available: int, reserved: int) -> Update:
    """`_move_stock`'s statement for one pair of signs, built once (parameters stock_ids, stock_qtys)."""
    ids_param = bindparam("stock_ids", type_=ARRAY(PgUUID()))
    wanted = (
        func.unnest(ids_param, bindparam("stock_qtys", type_=ARRAY(Integer())))
        .table_valued("product_id", "qty")
        .render_derived(name="wanted", with_types=False)
    )
    qty = wanted.c.qty
    values: dict[str, Any] = {"updated_at": func.now()}
    guards = []  # on the locked rows (INV) and on the updated ones (InventoryItem): the same conditions
    for name, column, sign in (
        ("available_qty", InventoryItem.available_qty, available),
        ("reserved_qty", InventoryItem.reserved_qty, reserved),
    ):
        if sign > 0:
            values[name] = column + qty
        elif sign < 0:
            values[name] = column - qty
            guards.append((INV.c[name] >= qty, column >= qty))
    # Only rows that can take the move are locked: after waiting for a lock, Postgres rechecks the
    # condition on the newest row version and skips (does not lock) a row that no longer qualifies. So
    # a checkout that lost the race for a sold-out SKU never holds its row, and the buyers queued behind
    # it wait only for those that can still win.
    locked = (
        select(INV.c.product_id)
        .join(wanted, wanted.c.product_id == INV.c.product_id)
        .where(INV.c.product_id == func.any(ids_param), *(lock_guard for lock_guard, _ in guards))
        .order_by(INV.c.product_id)
        .with_for_update(of=INV)
        .cte("locked")
        .prefix_with("MATERIALIZED")
    )
    # Only a move out of sellable stock can take it to its threshold: it was available_qty + qty before.
    went_low = (
        and_(
            InventoryItem.available_qty <= InventoryItem.low_stock_threshold,
            InventoryItem.available_qty + qty > InventoryItem.low_stock_threshold,
        )
        if available < 0
        else false()
    )
    return (
        update(InventoryItem)
        .where(
            InventoryItem.product_id == locked.c.product_id,
            InventoryItem.product_id == wanted.c.product_id,
            *(update_guard for _, update_guard in guards),
        )
        .values(values)
        .returning(InventoryItem.product_id, went_low)
    )


async def _move_stock(
    session: AsyncSession, quantities: Mapping[uuid.UUID, int], *, available: int, reserved: int
) -> list[tuple[uuid.UUID, bool]]:
    """Move each product's qty into or out of `available_qty` and `reserved_qty` (the signs: +1 adds it,
    -1 takes it, 0 leaves the column) in one statement, whatever the number of products; returns
    (moved product id, went low) rows.

    The `locked` CTE takes the row locks in ascending product id (the house lock order): its rows come
    out of a sort and are locked as they leave it, and the update touches a row only once it has been
    joined to its locked CTE row, so whatever plan Postgres picks, locks are taken in that order. Both
    the lock and the update are conditional (the column that decreases must hold qty, rechecked on the
    newest row version after a lock wait): a product without it is neither locked nor moved instead of
    going negative, never read-modify-write. A product "went low" when the move took its sellable stock
    from above its low-stock threshold to at or below it.
    """
    ids = sorted(quantities)
    if not ids:
        return []
    moved = await session.execute(
        _move_statement(available, reserved),
        {"stock_ids": ids, "stock_qtys": [quantities[i] for i in ids]},
    )
    return [(row[0], bool(row[1])) for row in moved]


async def reserve(session: AsyncSession, quantities: Mapping[uuid.UUID, int]) -> Reservation:
    """Move stock from available to reserved (commerce.md §7.3); a product without the stock is not
    reserved (False) instead of being oversold."""
    moved = await _move_stock(session, quantities, available=-1, reserved=+1)
    done = {product_id for product_id, _ in moved}
    return Reservation(
        reserved={product_id: product_id in done for product_id in sorted(quantities)},
        went_low=sorted(product_id for product_id, low in moved if low),
    )


async def release(session: AsyncSession, quantities: Mapping[uuid.UUID, int]) -> list[uuid.UUID]:
    """Move reserved stock back to available; products whose reservation did not cover the quantity
    (an invariant breach, logged by the caller) are returned and left alone."""
    moved = {
        product_id for product_id, _ in await _move_stock(session, quantities, available=+1, reserved=-1)
    }
    return [product_id for product_id in sorted(quantities) if product_id not in moved]


async def consume(session: AsyncSession, quantities: Mapping[uuid.UUID, int]) -> list[uuid.UUID]:
    """Delivered stock leaves the reservation for good; products that could not be consumed are returned."""
    moved = {product_id for product_id, _ in await _move_stock(session, quantities, available=0, reserved=-1)}
    return [product_id for product_id in sorted(quantities) if product_id not in moved]


async def available(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Sellable stock of each product as this transaction sees it (0 without an inventory row)."""
    rows = await session.execute(
        select(InventoryItem.product_id, InventoryItem.available_qty).where(
            InventoryItem.product_id.in_(product_ids)
        )
    )
    found: dict[uuid.UUID, int] = {row[0]: row[1] for row in rows}
    return {product_id: found.get(product_id, 0) for product_id in product_ids}


async def stock_of(
    session: AsyncSession, product_ids: Sequence[uuid.UUID]
) -> list[tuple[Product, InventoryItem]]:
    """Products with their inventory rows, in product id order (for low-stock notices)."""
    rows = await session.execute(
        select(Product, InventoryItem)
        .join(InventoryItem, InventoryItem.product_id == Product.id)
        .where(Product.id.in_(product_ids))
        .order_by(Product.id)
    )
    return [(row[0], row[1]) for row in rows]
