"""Checkout SQL: the locked cart, its lines with current product facts, parties, order rows, reads."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Update, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.models.cart import CartItem, CartRecord, CartVendorGroup
from packfinderz.models.catalog import InventoryItem, Product
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder

# Core tables for the bulk writes (no ORM bookkeeping on rows this request does not load).
CARTS = cast(Table, CartRecord.__table__)
VENDOR_ORDERS = cast(Table, VendorOrder.__table__)
ORDER_LINES = cast(Table, OrderLineItem.__table__)
INTENTS = cast(Table, PaymentIntent.__table__)


@dataclass(frozen=True)
class LockedCart:
    cart: CartRecord
    fresh: bool  # valid_until >= now(), by the database clock


# The checkout's reads are built once (building a statement costs more CPU than running it; issue #21).
_LOCK_CART = (
    select(CartRecord, (CartRecord.valid_until >= func.now()).label("fresh"))
    .where(CartRecord.id == bindparam("cart_id"), CartRecord.buyer_store_id == bindparam("buyer_store_id"))
    .with_for_update(of=CartRecord)
    .execution_options(populate_existing=True)
)


async def lock_cart(
    session: AsyncSession, cart_id: uuid.UUID, buyer_store_id: uuid.UUID
) -> LockedCart | None:
    """The buyer's cart, locked FOR UPDATE (a concurrent checkout of it waits here); another's → None."""
    row = (
        await session.execute(_LOCK_CART, {"cart_id": cart_id, "buyer_store_id": buyer_store_id})
    ).one_or_none()
    return LockedCart(row[0], bool(row[1])) if row else None


@dataclass(frozen=True)
class CurrentProduct:
    """The product as it is now (the quote's prices stay; rules and names are re-read)."""

    is_active: bool
    moq: int
    max_qty: int
    title: str
    sku: str
    category: str
    strain: str | None
    classification: str | None


@dataclass(frozen=True)
class CartLine:
    """An `ok` cart item, the current product (None if deleted), its vendor group's warnings/promo, and
    the product's committed sellable stock when read (0 without an inventory row; no lock taken)."""

    item: CartItem
    product: CurrentProduct | None
    group_warnings: list[dict[str, str]]
    group_promo: dict[str, Any] | None
    available_qty: int = 0


_OK_LINES = (
    select(
        CartItem,
        Product.id.label("current_id"),
        Product.is_active,
        Product.moq,
        Product.max_qty,
        Product.title,
        Product.sku,
        Product.category,
        Product.strain,
        Product.classification,
        CartVendorGroup.warnings,
        CartVendorGroup.promo,
        InventoryItem.available_qty,
    )
    .outerjoin(Product, Product.id == CartItem.product_id)
    .outerjoin(InventoryItem, InventoryItem.product_id == Product.id)
    .outerjoin(
        CartVendorGroup,
        and_(
            CartVendorGroup.cart_id == CartItem.cart_id,
            CartVendorGroup.vendor_store_id == CartItem.vendor_store_id,
        ),
    )
    .where(CartItem.cart_id == bindparam("cart_id"), CartItem.status == "ok")
    .order_by(CartItem.position)
)


async def ok_lines(session: AsyncSession, cart_id: uuid.UUID) -> list[CartLine]:
    """The cart's `ok` items in position order, with current product facts, group data and committed
    stock (for hot-SKU admission, read without locking the inventory rows): one statement."""
    rows = await session.execute(_OK_LINES, {"cart_id": cart_id})
    lines = []
    for row in rows:
        product = None
        if row.current_id is not None:
            product = CurrentProduct(
                row.is_active,
                row.moq,
                row.max_qty,
                row.title,
                row.sku,
                row.category,
                row.strain,
                row.classification,
            )
        lines.append(CartLine(row[0], product, list(row.warnings or []), row.promo, row.available_qty or 0))
    return lines


_INSERT_ORDERS = (
    pg_insert(VENDOR_ORDERS)
    .on_conflict_do_nothing(index_elements=["checkout_group_id", "vendor_store_id"])
    .returning(VENDOR_ORDERS.c.id, VENDOR_ORDERS.c.order_number)
)


async def insert_orders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[uuid.UUID, int]:
    """Insert the group's orders in one statement; returns the number of each order written.

    An order whose (checkout group, vendor) already exists (a concurrent conversion of the group) is not
    written and is missing from the answer: no savepoint round trips on every checkout for that case.
    """
    result = await session.execute(_INSERT_ORDERS, rows)
    return {row.id: row.order_number for row in result}


async def delete_orders(session: AsyncSession, order_ids: Collection[uuid.UUID]) -> None:
    """Undo this transaction's order inserts (before anything refers to them)."""
    if order_ids:
        await session.execute(delete(VENDOR_ORDERS).where(VENDOR_ORDERS.c.id.in_(list(order_ids))))


async def insert_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(insert(ORDER_LINES), rows)


async def insert_intents(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(INTENTS), rows)


async def reject_lines(session: AsyncSession, line_ids: Collection[uuid.UUID], reason: str) -> None:
    """Lines never reserved become rejected with the reason (nothing to release)."""
    await session.execute(
        update(ORDER_LINES)
        .where(ORDER_LINES.c.id.in_(list(line_ids)))
        .values(status="rejected", notes=reason, updated_at=func.now())
    )


async def set_order_totals(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write each order's status and totals (`id`, `status`, `*_cents` per row)."""
    await session.execute(
        update(VENDOR_ORDERS)
        .where(VENDOR_ORDERS.c.id == bindparam("order_id"))
        .values(
            status=bindparam("status"),
            subtotal_cents=bindparam("subtotal_cents"),
            discounts_cents=bindparam("discounts_cents"),
            total_cents=bindparam("total_cents"),
            balance_due_cents=bindparam("balance_due_cents"),
            updated_at=func.now(),
        ),
        [{**{k: v for k, v in row.items() if k != "id"}, "order_id": row["id"]} for row in rows],
    )


async def settle_intents(
    session: AsyncSession, *, dropped: Collection[uuid.UUID], amounts: dict[uuid.UUID, int]
) -> None:
    """Remove the intents of orders that ended rejected; set the amount of the others to their total."""
    if dropped:
        await session.execute(delete(INTENTS).where(INTENTS.c.order_id.in_(list(dropped))))
    if amounts:
        await session.execute(
            update(INTENTS)
            .where(INTENTS.c.order_id == bindparam("intent_order_id"))
            .values(amount_cents=bindparam("amount_cents"), updated_at=func.now()),
            [{"intent_order_id": order_id, "amount_cents": amount} for order_id, amount in amounts.items()],
        )


@functools.cache
def _convert_statement(columns: tuple[str, ...]) -> Update:
    """The cart's conversion setting these columns (parameters `set_<column>` and `cart_id`), built once."""
    return (
        update(CARTS)
        .where(CARTS.c.id == bindparam("cart_id"))
        .values(
            status="converted",
            converted_at=func.now(),
            updated_at=func.now(),
            **{column: bindparam(f"set_{column}") for column in columns},
        )
        .returning(CARTS.c.converted_at)
    )


async def convert_cart(session: AsyncSession, cart_id: uuid.UUID, values: dict[str, Any]) -> datetime:
    """Mark the cart converted with the checkout's details; returns converted_at.

    On the Core table: nothing in the session needs refreshing (the result is built from the values)."""
    statement = _convert_statement(tuple(sorted(values)))
    result = await session.execute(
        statement, {"cart_id": cart_id, **{f"set_{column}": value for column, value in values.items()}}
    )
    converted_at: datetime | None = result.scalar_one()
    assert converted_at is not None
    return converted_at


async def orders_of(
    session: AsyncSession, identifier: uuid.UUID, *, by_cart: bool = True
) -> list[tuple[VendorOrder, PaymentIntent | None]]:
    """The orders of a checkout group (or, with `by_cart`, of the cart with that id), oldest first."""
    match = VendorOrder.checkout_group_id == identifier
    if by_cart:
        match = or_(match, VendorOrder.cart_id == identifier)
    rows = await session.execute(
        select(VendorOrder, PaymentIntent)
        .outerjoin(PaymentIntent, PaymentIntent.order_id == VendorOrder.id)
        .where(match)
        .order_by(VendorOrder.created_at, VendorOrder.vendor_store_id)
        .execution_options(populate_existing=True)
    )
    return [(row[0], row[1]) for row in rows]


async def lines_of(session: AsyncSession, order_ids: Collection[uuid.UUID]) -> list[OrderLineItem]:
    """The orders' lines, by order and position."""
    rows = await session.scalars(
        select(OrderLineItem)
        .where(OrderLineItem.order_id.in_(list(order_ids)))
        .order_by(OrderLineItem.order_id, OrderLineItem.position)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def reload_cart(session: AsyncSession, cart_id: uuid.UUID) -> CartRecord:
    """The cart as committed now (after a concurrent conversion of its group)."""
    return (
        await session.scalars(
            select(CartRecord).where(CartRecord.id == cart_id).execution_options(populate_existing=True)
        )
    ).one()
