"""Cart SQL: the facts a quote needs (products, stock, tiers, vendors) and the cart snapshot itself."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, literal, select, text, true
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from packfinderz.cart.pricing import Tier
from packfinderz.models.cart import CartItem, CartRecord, CartVendorGroup
from packfinderz.models.catalog import InventoryItem, Product, ProductMedia, ProductVolumeDiscount
from packfinderz.models.identity import Store
from packfinderz.models.media import READABLE_STATUSES, Media

QUOTE_VALIDITY = timedelta(minutes=15)


@dataclass(frozen=True)
class ProductFacts:
    """What pricing and the per-item checks read about one product."""

    id: uuid.UUID
    store_id: uuid.UUID
    title: str
    unit: str
    moq: int
    max_qty: int
    price_cents: int
    is_active: bool
    available_qty: int | None  # None: no inventory row
    thumbnail: str | None
    tiers: tuple[Tier, ...]


# The quote's reads are built once (building a statement costs more CPU than running it; issue #21).
_TIERS = (
    select(
        func.array_agg(
            aggregate_order_by(ProductVolumeDiscount.min_qty, ProductVolumeDiscount.min_qty)
        ).label("mins"),
        func.array_agg(
            aggregate_order_by(ProductVolumeDiscount.discount_percent, ProductVolumeDiscount.min_qty)
        ).label("percents"),
    )
    .where(ProductVolumeDiscount.product_id == Product.id)
    .lateral("tiers")
)
_PRODUCTS_FOR_QUOTE = (
    select(
        Product.id,
        Product.store_id,
        Product.title,
        Product.unit,
        Product.moq,
        Product.max_qty,
        Product.price_cents,
        Product.is_active,
        InventoryItem.available_qty,
        Media.public_url,
        _TIERS.c.mins,
        _TIERS.c.percents,
    )
    .outerjoin(InventoryItem, InventoryItem.product_id == Product.id)
    .outerjoin(ProductMedia, and_(ProductMedia.product_id == Product.id, ProductMedia.position == 0))
    .outerjoin(Media, and_(Media.id == ProductMedia.media_id, Media.status.in_(READABLE_STATUSES)))
    .join(_TIERS, true())
    .where(Product.id.in_(bindparam("ids", expanding=True)))
)


async def products_for_quote(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ProductFacts]:
    """Products with stock, thumbnail (gallery position 0, if readable) and tiers: one statement."""
    found: dict[uuid.UUID, ProductFacts] = {}
    for row in await session.execute(_PRODUCTS_FOR_QUOTE, {"ids": list(ids)}):
        tier_list = tuple(Tier(m, p) for m, p in zip(row.mins or (), row.percents or (), strict=True))
        found[row.id] = ProductFacts(
            id=row.id,
            store_id=row.store_id,
            title=row.title,
            unit=row.unit,
            moq=row.moq,
            max_qty=row.max_qty,
            price_cents=row.price_cents,
            is_active=row.is_active,
            available_qty=row.available_qty,
            thumbnail=row.public_url,
            tiers=tier_list,
        )
    return found


_STORES_BY_IDS = (
    select(Store)
    .where(Store.id.in_(bindparam("ids", expanding=True)))
    .execution_options(populate_existing=True)
)


async def stores_by_ids(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Store]:
    """Stores by id, read fresh."""
    rows = await session.scalars(_STORES_BY_IDS, {"ids": list(ids)})
    return {store.id: store for store in rows}


@functools.cache
def _upsert_statement(columns: tuple[str, ...]) -> ReturningInsert[CartRecord]:
    """The active cart's upsert writing these columns (parameters `set_<column>`, `buyer_store_id`)."""
    valid_until = func.now() + literal(QUOTE_VALIDITY)
    statement = insert(CartRecord)
    return (
        statement.values(
            buyer_store_id=bindparam("buyer_store_id"),
            valid_until=valid_until,
            **{column: bindparam(f"set_{column}") for column in columns},
        )
        .on_conflict_do_update(
            index_elements=[CartRecord.buyer_store_id],
            # A literal predicate: a bound parameter would not match the partial index under a generic plan.
            index_where=text("status = 'active'"),
            set_={
                **{column: statement.excluded[column] for column in columns},
                "valid_until": valid_until,
                "updated_at": func.now(),
            },
        )
        .returning(CartRecord)
        .execution_options(populate_existing=True)
    )


async def upsert_active_cart(
    session: AsyncSession, buyer_store_id: uuid.UUID, values: dict[str, Any]
) -> CartRecord:
    """Write the buyer's active cart header (insert, or update the one the partial unique index finds).

    The row stays locked to commit, so concurrent quotes of one buyer apply one after the other.
    """
    parameters = {f"set_{column}": value for column, value in values.items()}
    statement = _upsert_statement(tuple(sorted(values)))
    return (await session.scalars(statement, {"buyer_store_id": buyer_store_id, **parameters})).one()


# One round trip: both deletes as data-modifying CTEs of one statement.
_OLD_ITEMS = (
    delete(CartItem)
    .where(CartItem.cart_id == bindparam("cart_id"))
    .returning(CartItem.product_id, CartItem.unit_price_cents)
    .cte("old_items")
)
_CLEAR_CART = select(_OLD_ITEMS.c.product_id, _OLD_ITEMS.c.unit_price_cents).add_cte(
    delete(CartVendorGroup)
    .where(CartVendorGroup.cart_id == bindparam("cart_id"))
    .returning(CartVendorGroup.id)
    .cte("old_groups")
)


async def clear_cart(session: AsyncSession, cart_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Delete the cart's items and groups; returns the unit price each product had in the old quote."""
    old = await session.execute(_CLEAR_CART, {"cart_id": cart_id})
    return {row.product_id: row.unit_price_cents for row in old}


async def insert_items(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[CartItem]:
    """Insert the quote's items in one statement (RETURNING order is not the parameter order)."""
    items = await session.scalars(insert(CartItem).returning(CartItem), rows)
    return list(items)


async def insert_groups(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[CartVendorGroup]:
    groups = await session.scalars(insert(CartVendorGroup).returning(CartVendorGroup), rows)
    return list(groups)


async def active_cart(session: AsyncSession, buyer_store_id: uuid.UUID) -> CartRecord | None:
    return (
        await session.scalars(
            select(CartRecord).where(
                CartRecord.buyer_store_id == buyer_store_id, CartRecord.status == "active"
            )
        )
    ).one_or_none()


async def cart_contents(
    session: AsyncSession, cart_id: uuid.UUID
) -> tuple[list[CartVendorGroup], list[CartItem]]:
    """The cart's groups and items (items in position order)."""
    groups = await session.scalars(select(CartVendorGroup).where(CartVendorGroup.cart_id == cart_id))
    items = await session.scalars(
        select(CartItem).where(CartItem.cart_id == cart_id).order_by(CartItem.position)
    )
    return list(groups), list(items)
