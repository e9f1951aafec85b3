"""Catalog product SQL: one product with its vendor, tiers and gallery; insert, update, delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.models.catalog import (
    InventoryItem,
    Product,
    ProductMedia,
    ProductVolumeDiscount,
)
from packfinderz.models.identity import Store
from packfinderz.models.media import Media

FOREIGN_KEY_VIOLATION = "23503"

# --- one product -----------------------------------------------------------------------------------


async def get_product(session: AsyncSession, product_id: uuid.UUID, *, lock: bool = False) -> Product | None:
    """A product by id (any store: callers check ownership or visibility)."""
    query = select(Product).where(Product.id == product_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


@dataclass(frozen=True)
class ProductRecord:
    """A product with everything its DTO shows."""

    product: Product
    vendor: Store
    inventory: InventoryItem | None
    coa: Media | None
    tiers: list[ProductVolumeDiscount]
    gallery: list[tuple[ProductMedia, Media | None]]


async def get_product_with_vendor(
    session: AsyncSession, product_id: uuid.UUID
) -> tuple[Product, Store] | None:
    """A product and its vendor store in one statement."""
    row = (
        await session.execute(
            select(Product, Store).join(Store, Store.id == Product.store_id).where(Product.id == product_id)
        )
    ).one_or_none()
    return (row[0], row[1]) if row else None


async def product_record(session: AsyncSession, product: Product, vendor: Store) -> ProductRecord:
    """Inventory and COA media, tiers (min_qty DESC), gallery with media (position ASC): three statements."""
    inventory, coa = (
        await session.execute(
            select(InventoryItem, Media)
            .select_from(Product)
            .outerjoin(InventoryItem, InventoryItem.product_id == Product.id)
            .outerjoin(Media, Media.id == Product.coa_media_id)
            .where(Product.id == product.id)
            .execution_options(populate_existing=True)
        )
    ).one()
    tiers = list(
        await session.scalars(
            select(ProductVolumeDiscount)
            .where(ProductVolumeDiscount.product_id == product.id)
            .order_by(ProductVolumeDiscount.min_qty.desc())
        )
    )
    gallery: list[tuple[ProductMedia, Media | None]] = [
        (row[0], row[1])
        for row in await session.execute(
            select(ProductMedia, Media)
            .outerjoin(Media, Media.id == ProductMedia.media_id)
            .where(ProductMedia.product_id == product.id)
            .order_by(ProductMedia.position)
        )
    ]
    return ProductRecord(product, vendor, inventory, coa, tiers, gallery)


async def product_id_by_sku(session: AsyncSession, store_id: uuid.UUID, sku: str) -> uuid.UUID | None:
    """The id of the store's product with this SKU, if any."""
    return await session.scalar(select(Product.id).where(Product.store_id == store_id, Product.sku == sku))


async def insert_product(session: AsyncSession, values: dict[str, Any]) -> Product:
    """Insert a product (its generated columns are read back)."""
    product = Product(**values)
    session.add(product)
    await session.flush()
    await session.refresh(product)
    return product


async def update_product(session: AsyncSession, product: Product, values: dict[str, Any]) -> Product:
    """Apply column changes and read the row back (generated columns and updated_at change)."""
    if values:
        await session.execute(
            update(Product).where(Product.id == product.id).values(**values, updated_at=func.now())
        )
    await session.refresh(product)
    return product


async def delete_product(session: AsyncSession, product_id: uuid.UUID) -> bool:
    """Delete the product (inventory, tiers, gallery cascade); False when cart lines still reference it.

    cart_items reference products with ON DELETE RESTRICT; the delete runs in a savepoint so that
    refusal (also when a quote adds the product concurrently) leaves the transaction usable.
    """
    try:
        async with session.begin_nested():
            await session.execute(delete(Product).where(Product.id == product_id))
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == FOREIGN_KEY_VIOLATION:
            return False
        raise
    return True


async def replace_tiers(
    session: AsyncSession, store_id: uuid.UUID, product_id: uuid.UUID, tiers: Sequence[tuple[int, Any]]
) -> None:
    """Replace the product's volume tiers with (min_qty, discount_percent) pairs."""
    await session.execute(delete(ProductVolumeDiscount).where(ProductVolumeDiscount.product_id == product_id))
    if tiers:
        await session.execute(
            insert(ProductVolumeDiscount),
            [
                {"store_id": store_id, "product_id": product_id, "min_qty": q, "discount_percent": pct}
                for q, pct in tiers
            ],
        )


async def gallery_media_ids(session: AsyncSession, product_id: uuid.UUID) -> list[uuid.UUID | None]:
    """The media ids of the product's gallery, by position."""
    rows = await session.scalars(
        select(ProductMedia.media_id)
        .where(ProductMedia.product_id == product_id)
        .order_by(ProductMedia.position)
    )
    return list(rows)


async def replace_gallery(session: AsyncSession, product_id: uuid.UUID, media: Sequence[Media]) -> None:
    """Rewrite the gallery as `media` in order (position = index; 0 is the thumbnail)."""
    await session.execute(delete(ProductMedia).where(ProductMedia.product_id == product_id))
    if media:
        await session.execute(
            insert(ProductMedia),
            [
                {
                    "product_id": product_id,
                    "media_id": m.id,
                    "url": m.public_url,
                    "storage_key": m.storage_key,
                    "position": index,
                }
                for index, m in enumerate(media)
            ],
        )
