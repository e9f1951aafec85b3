"""Wishlist rules (identity.md §13).

Decision (README "Wishlist"): a wishlist shows what its store may see *now*. A row stays stored while its
product is inactive or its vendor fails the visibility gate (commerce.md §3, with the caller's own store
as the buyer context; a store's own products always pass), and it is left out of the list, of `/ids`
and of `total` for as long as that lasts; it reappears when the vendor is visible again. Adding such a
product is 404, as for a product that does not exist, so hidden vendors cannot be probed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog.repository import products as catalog_products
from packfinderz.catalog.repository import search as catalog_search
from packfinderz.catalog.service import product_summary
from packfinderz.kit.errors import NotFound
from packfinderz.kit.pagination import Cursor, PageParams
from packfinderz.stores.service import vendor_visible_to_buyer
from packfinderz.wishlist import repository


async def _visible_vendors(session: AsyncSession, ctx: StoreCtx) -> dict[uuid.UUID, float]:
    """The vendors the active store may see, with their distance from it."""
    store = ctx.store
    found = await catalog_search.visible_vendors(session, store.address_state, store.lat, store.lng)
    return {vendor.id: vendor.distance_m for vendor in found}


async def add(session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID) -> tuple[dict[str, Any], bool]:
    """Keep a product; (`{product_id, created_at}`, created). Missing, inactive or hidden → 404."""
    found = await catalog_products.get_product_with_vendor(session, product_id)
    if found is None:
        raise NotFound("product not found")
    product, vendor = found
    own = product.store_id == ctx.store_id
    if not product.is_active or (not own and not vendor_visible_to_buyer(vendor, ctx.store)):
        raise NotFound("product not found")
    created_at, created = await repository.add(session, ctx.store_id, product_id)
    return {"product_id": product_id, "created_at": created_at}, created


async def remove(session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID) -> None:
    """Drop a product from the wishlist; absent is fine."""
    await repository.remove(session, ctx.store_id, product_id)


def _next_cursor(rows: list[Any], limit: int, at: str, ident: str) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return Cursor(getattr(last, at), getattr(last, ident)).encode()


async def list_items(session: AsyncSession, ctx: StoreCtx, page: PageParams) -> dict[str, Any]:
    """The visible wishlist, newest first, with ProductSummary items and the visible total."""
    vendors = await _visible_vendors(session, ctx)
    rows = await repository.page(session, ctx.store_id, vendors.keys(), page)
    buyer = ctx.store_type == "buyer"

    def item(row: Any) -> dict[str, Any]:
        distance = vendors.get(row.store_id) if buyer else None
        return {"product": product_summary(row, distance), "created_at": row.wishlisted_at}

    return {
        "items": [item(row) for row in rows[: page.limit]],
        "next_cursor": _next_cursor(rows, page.limit, "wishlisted_at", "wishlist_id"),
        "total": await repository.count(session, ctx.store_id, vendors.keys()),
    }


async def list_ids(session: AsyncSession, ctx: StoreCtx, page: PageParams) -> dict[str, Any]:
    """The visible wishlist's product ids, newest first."""
    vendors = await _visible_vendors(session, ctx)
    rows = await repository.ids_page(session, ctx.store_id, vendors.keys(), page)
    return {
        "items": [row.product_id for row in rows[: page.limit]],
        "next_cursor": _next_cursor(rows, page.limit, "created_at", "id"),
    }
