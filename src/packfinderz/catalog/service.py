"""Catalog rules: vendor products and inventory, buyer browse with the visibility gate, detail, storefront."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pydantic_core
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog.repository import inventory as inventory_repository
from packfinderz.catalog.repository import products as products_repository
from packfinderz.catalog.repository import search as search_repository
from packfinderz.catalog.repository.products import ProductRecord
from packfinderz.catalog.repository.search import Scope, VisibleVendor
from packfinderz.catalog.schemas import (
    InventoryDTO,
    InventoryPut,
    InventoryRow,
    ProductCreate,
    ProductDTO,
    ProductMediaDTO,
    ProductUpdate,
    VendorDTO,
    VolumeDiscountDTO,
)
from packfinderz.catalog.search import ListRequest, SortCursor
from packfinderz.kit.errors import Conflict, NotFound, StateConflict, ValidationFailed
from packfinderz.kit.geo import distance_m
from packfinderz.media import repository as media_repository
from packfinderz.media.attachments import reconcile
from packfinderz.models.catalog import InventoryItem, Product
from packfinderz.models.identity import Store
from packfinderz.models.media import READABLE_STATUSES, Media
from packfinderz.notifications import repository as notices
from packfinderz.stores import repository as stores
from packfinderz.stores.service import vendor_visible_to_buyer

log = structlog.get_logger("catalog")

TOTAL_CACHE_SECONDS = 600
# A cached buyer page lives this long at most. Its key changes with every product write and every
# change of the visible-vendor set (see browse_json); stock (inventory rows, not product writes)
# is the one figure a cached page may show up to this old: checkout always reads live stock.
PAGE_CACHE_SECONDS = 30
GALLERY = "product_gallery"
COA = "product_coa"
# Columns a PATCH may write directly (the rest are relations handled on their own).
_COLUMNS = frozenset(
    {
        "sku",
        "title",
        "subtitle",
        "body_html",
        "brand",
        "strain",
        "batch_id",
        "metric_tag",
        "barcode",
        "packaging_type",
        "category",
        "classification",
        "unit",
        "feelings",
        "flavors",
        "usage",
        "moq",
        "max_qty",
        "price_cents",
        "compare_at_price_cents",
        "is_active",
        "is_featured",
        "thc_percent",
        "cbd_percent",
        "coa_media_id",
    }
)


# --- vendor writes ---------------------------------------------------------------------------------


async def _checked_media(
    session: AsyncSession, store_id: uuid.UUID, ids: list[uuid.UUID], kind: str, field: str
) -> list[Media]:
    """The media rows, in order; each must exist, be the store's own and of `kind` (400 otherwise)."""
    found = await media_repository.media_by_ids(session, ids)
    problems: dict[str, str] = {}
    for index, media_id in enumerate(ids):
        media = found.get(media_id)
        path = f"{field}.{index}" if field == "media_ids" else field
        if media is None:
            problems[path] = "media not found"
        elif media.store_id != store_id:
            problems[path] = "media belongs to different store"
        elif media.kind != kind:
            problems[path] = f"must be media of kind {kind}"
    if problems:
        raise ValidationFailed(details=problems)
    return [found[m] for m in ids]


async def _owned(session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID, *, lock: bool) -> Product:
    """The caller's product: unknown or another store's → 404 (no probing, issue #17)."""
    product = await products_repository.get_product(session, product_id, lock=lock)
    if product is None or product.store_id != ctx.store_id:
        raise NotFound("product not found")
    return product


async def _ensure_sku_free(
    session: AsyncSession, store_id: uuid.UUID, sku: str, own: uuid.UUID | None
) -> None:
    holder = await products_repository.product_id_by_sku(session, store_id, sku)
    if holder is not None and holder != own:
        raise Conflict("sku already exists in this store", details={"constraint": "uq_products_store_id_sku"})


async def _notify_low_stock(session: AsyncSession, low: Sequence[tuple[Product, InventoryItem]]) -> None:
    """One notice per product in its vendor's inbox, written in the same transaction as the stock change."""
    await notices.insert_store_notices(
        session,
        [
            {
                "id": uuid.uuid4(),
                "store_id": product.store_id,
                "type": "order_alert",
                "title": f"Low stock: {product.title}",
                "message": (
                    f"{product.sku} has {stock.available_qty} sellable units left "
                    f"(threshold {stock.low_stock_threshold})."
                ),
                "link": f"/vendor/products/{product.id}",
            }
            for product, stock in low
        ],
    )
    for product, _ in low:
        log.info("catalog.low_stock", product_id=str(product.id), store_id=str(product.store_id))


async def reserve_stock(session: AsyncSession, quantities: Mapping[uuid.UUID, int]) -> dict[uuid.UUID, bool]:
    """Reserve each product's quantity (False: not enough stock, nothing moved for it).

    Products whose sellable stock this takes to or below their threshold notify their vendor, as a
    vendor's own inventory write does.
    """
    reservation = await inventory_repository.reserve(session, quantities)
    if reservation.went_low:
        await _notify_low_stock(session, await inventory_repository.stock_of(session, reservation.went_low))
    return reservation.reserved


async def available_stock(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each product's sellable stock now (0 without an inventory row)."""
    return await inventory_repository.available(session, product_ids)


async def create_product(session: AsyncSession, ctx: StoreCtx, body: ProductCreate) -> ProductDTO:
    """Product, inventory, tiers, gallery and COA attachments in the caller's transaction."""
    gallery = await _checked_media(session, ctx.store_id, body.media_ids, "product", "media_ids")
    if body.coa_media_id is not None:
        await _checked_media(session, ctx.store_id, [body.coa_media_id], "coa", "coa_media_id")
    await _ensure_sku_free(session, ctx.store_id, body.sku, None)
    values = body.model_dump(include=set(_COLUMNS))
    tiers = [(t.min_qty, t.discount_percent) for t in body.volume_discounts or []]
    product = await products_repository.insert_product(
        session,
        {
            **values,
            "store_id": ctx.store_id,
            "vendor_state": ctx.store.address_state,
            "has_promo": bool(tiers),
        },
    )
    await inventory_repository.set_inventory(
        session, product.id, body.inventory.available_qty, body.inventory.low_stock_threshold
    )
    await products_repository.replace_tiers(session, ctx.store_id, product.id, tiers)
    await products_repository.replace_gallery(session, product.id, gallery)
    await _reconcile(
        session, product, old_gallery=[], new_gallery=body.media_ids, old_coa=None, new_coa=body.coa_media_id
    )
    return await _dto(session, product, ctx.store)


async def _reconcile(
    session: AsyncSession,
    product: Product,
    *,
    old_gallery: list[uuid.UUID | None],
    new_gallery: list[uuid.UUID],
    old_coa: uuid.UUID | None,
    new_coa: uuid.UUID | None,
) -> None:
    await reconcile(
        session,
        entity_type=GALLERY,
        entity_id=product.id,
        store_id=product.store_id,
        old_media_ids=old_gallery,
        new_media_ids=new_gallery,
    )
    await reconcile(
        session,
        entity_type=COA,
        entity_id=product.id,
        store_id=product.store_id,
        old_media_ids=[old_coa],
        new_media_ids=[new_coa],
    )


async def update_product(
    session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID, body: ProductUpdate
) -> ProductDTO:
    """Apply a partial update; tiers and gallery are replaced when given; carts are never rewritten."""
    product = await _owned(session, ctx, product_id, lock=True)
    changes = body.changes()
    moq = changes.get("moq", product.moq)
    max_qty = changes.get("max_qty", product.max_qty)
    if max_qty and max_qty < moq:
        raise ValidationFailed(details={"max_qty": "must be 0 (no cap) or at least moq"})
    if "sku" in changes:
        await _ensure_sku_free(session, ctx.store_id, changes["sku"], product.id)
    old_gallery = await products_repository.gallery_media_ids(session, product.id)
    new_gallery: list[uuid.UUID] | None = changes.get("media_ids")
    gallery = (
        await _checked_media(session, ctx.store_id, new_gallery, "product", "media_ids")
        if new_gallery is not None
        else None
    )
    old_coa = product.coa_media_id
    new_coa = changes.get("coa_media_id", old_coa)
    if "coa_media_id" in changes and new_coa is not None and new_coa != old_coa:
        await _checked_media(session, ctx.store_id, [new_coa], "coa", "coa_media_id")
    values = {name: value for name, value in changes.items() if name in _COLUMNS}
    if body.volume_discounts is not None:
        tiers = [(t.min_qty, t.discount_percent) for t in body.volume_discounts]
        await products_repository.replace_tiers(session, ctx.store_id, product.id, tiers)
        values["has_promo"] = bool(tiers)
    if gallery is not None:
        await products_repository.replace_gallery(session, product.id, gallery)
    await _reconcile(
        session,
        product,
        old_gallery=old_gallery,
        new_gallery=new_gallery if new_gallery is not None else [m for m in old_gallery if m is not None],
        old_coa=old_coa,
        new_coa=new_coa,
    )
    product = await products_repository.update_product(session, product, values)
    if body.inventory is not None:
        await _write_inventory(
            session, product, body.inventory.available_qty, body.inventory.low_stock_threshold
        )
    return await _dto(session, product, ctx.store)


async def delete_product(session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID) -> None:
    """Hard delete (inventory, tiers, gallery cascade; attachments removed).

    409 "deactivate instead" while open orders reserve stock or any cart line references the product
    (commerce.md §4.3); order lines keep their snapshot (their product_id becomes null).
    """
    product = await _owned(session, ctx, product_id, lock=True)
    inventory = await inventory_repository.lock_inventory(session, product.id)
    if inventory is not None and inventory.reserved_qty > 0:
        raise Conflict("product has reserved stock in open orders; deactivate instead")
    old_gallery = await products_repository.gallery_media_ids(session, product.id)
    if not await products_repository.delete_product(session, product.id):
        raise Conflict("product is in buyers' carts; deactivate instead")
    await _reconcile(
        session, product, old_gallery=old_gallery, new_gallery=[], old_coa=product.coa_media_id, new_coa=None
    )


async def _write_inventory(
    session: AsyncSession, product: Product, available_qty: int, low_stock_threshold: int
) -> InventoryItem:
    before = await inventory_repository.lock_inventory(session, product.id)
    was_low = before is not None and before.available_qty <= before.low_stock_threshold
    after = await inventory_repository.set_inventory(session, product.id, available_qty, low_stock_threshold)
    if after.available_qty <= after.low_stock_threshold and not was_low:
        await _notify_low_stock(session, [(product, after)])
    return after


async def put_inventory(
    session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID, body: InventoryPut
) -> InventoryRow:
    """Set sellable stock (and optionally the threshold); reserved stock is never client-set."""
    product = await _owned(session, ctx, product_id, lock=True)
    threshold = body.low_stock_threshold
    if threshold is None:
        current = await inventory_repository.get_inventory(session, product.id)
        threshold = current.low_stock_threshold if current is not None else 0
    row = await _write_inventory(session, product, body.available_qty, threshold)
    return InventoryRow(
        product_id=product.id,
        sku=product.sku,
        title=product.title,
        is_active=product.is_active,
        low_stock=row.available_qty <= row.low_stock_threshold,
        **_inventory(row).model_dump(),
    )


async def inventory_list(
    session: AsyncSession, ctx: StoreCtx, limit: int, cursor: str | None
) -> tuple[list[InventoryRow], str | None]:
    """The vendor's inventory rows with sku and title, newest product first."""
    position = SortCursor.decode(cursor, "newest") if cursor else None
    rows = await inventory_repository.inventory_page(session, ctx.store_id, limit, position)
    items = [
        InventoryRow(
            product_id=r.product_id,
            sku=r.sku,
            title=r.title,
            is_active=r.is_active,
            available_qty=r.available_qty,
            reserved_qty=r.reserved_qty,
            low_stock_threshold=r.low_stock_threshold,
            updated_at=r.updated_at,
            low_stock=r.available_qty <= r.low_stock_threshold,
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = SortCursor("newest", last.created_at, last.product_id).encode()
    return items, next_cursor


# --- reads -----------------------------------------------------------------------------------------


def _inventory(row: InventoryItem) -> InventoryDTO:
    return InventoryDTO(
        available_qty=row.available_qty,
        reserved_qty=row.reserved_qty,
        low_stock_threshold=row.low_stock_threshold,
        updated_at=row.updated_at,
    )


def _readable_url(media: Media | None) -> str | None:
    return media.public_url if media is not None and media.status in READABLE_STATUSES else None


def product_dto(record: ProductRecord) -> ProductDTO:
    """The full product of commerce.md §5.5 (unreadable gallery media are skipped)."""
    p, vendor = record.product, record.vendor
    return ProductDTO(
        id=p.id,
        sku=p.sku,
        title=p.title,
        subtitle=p.subtitle,
        body_html=p.body_html,
        brand=p.brand,
        strain=p.strain,
        batch_id=p.batch_id,
        metric_tag=p.metric_tag,
        barcode=p.barcode,
        packaging_type=p.packaging_type,
        category=p.category,
        classification=p.classification,
        unit=p.unit,
        feelings=p.feelings,
        flavors=p.flavors,
        usage=p.usage,
        moq=p.moq,
        max_qty=p.max_qty,
        price_cents=p.price_cents,
        compare_at_price_cents=p.compare_at_price_cents,
        thc_percent=p.thc_percent,
        cbd_percent=p.cbd_percent,
        has_promo=p.has_promo,
        is_active=p.is_active,
        is_featured=p.is_featured,
        coa_media_id=p.coa_media_id,
        coa_added=p.coa_added,
        coa_read_url=_readable_url(record.coa),
        created_at=p.created_at,
        updated_at=p.updated_at,
        inventory=_inventory(record.inventory) if record.inventory is not None else None,
        volume_discounts=[
            VolumeDiscountDTO(
                id=t.id, min_qty=t.min_qty, discount_percent=t.discount_percent, created_at=t.created_at
            )
            for t in record.tiers
        ],
        media=[
            ProductMediaDTO(
                id=row.id,
                media_id=row.media_id,
                url=media.public_url,
                position=row.position,
                created_at=row.created_at,
            )
            for row, media in record.gallery
            if media is not None and media.status in READABLE_STATUSES
        ],
        vendor=VendorDTO(
            store_id=vendor.id,
            company_name=vendor.company_name,
            dba_name=vendor.dba_name,
            logo_url=vendor.logo_url,
        ),
    )


async def _dto(session: AsyncSession, product: Product, vendor: Store) -> ProductDTO:
    return product_dto(await products_repository.product_record(session, product, vendor))


async def product_detail(session: AsyncSession, ctx: StoreCtx, product_id: uuid.UUID) -> ProductDTO:
    """A vendor reads its own products (another's → 404); a buyer only what the gate lets it see (404)."""
    found = await products_repository.get_product_with_vendor(session, product_id)
    if found is None:
        raise NotFound("product not found")
    product, vendor = found
    if ctx.store_type == "vendor":
        if product.store_id != ctx.store_id:
            raise NotFound("product not found")
    elif not product.is_active or not vendor_visible_to_buyer(vendor, ctx.store):
        raise NotFound("product not found")
    return await _dto(session, product, vendor)


def _requested_state(ctx: StoreCtx, state: str | None) -> str:
    """The buyer's own state; a blank `state` is a 400, a different one a 422 (commerce.md §3)."""
    own = ctx.store.address_state
    if state is None:
        return own
    requested = state.strip().upper()
    if not requested:
        raise ValidationFailed(details={"state": "must not be blank"})
    if requested != own:
        raise StateConflict("requested state does not match the buyer's state", details={"state": requested})
    return own


def _half_up(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _summary(row: Row[Any], distance: float | None) -> dict[str, Any]:
    inventory = (
        {
            "available_qty": row.available_qty,
            "reserved_qty": row.reserved_qty,
            "low_stock_threshold": row.low_stock_threshold,
            "updated_at": row.inventory_updated_at,
        }
        if row.available_qty is not None
        else None
    )
    return {
        "id": row.id,
        "sku": row.sku,
        "title": row.title,
        "subtitle": row.subtitle,
        "brand": row.brand,
        "strain": row.strain,
        "category": row.category,
        "classification": row.classification,
        "unit": row.unit,
        "moq": row.moq,
        "max_qty": row.max_qty,
        "price_cents": row.price_cents,
        "compare_at_price_cents": row.compare_at_price_cents,
        "thc_percent": float(row.thc_percent) if row.thc_percent is not None else None,
        "cbd_percent": float(row.cbd_percent) if row.cbd_percent is not None else None,
        "has_promo": row.has_promo,
        "coa_added": row.coa_added,
        "is_active": row.is_active,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "inventory": inventory,
        "vendor_store_id": row.store_id,
        "thumbnail_url": row.thumbnail_url,
        "distance_meters": _half_up(distance) if distance is not None else None,
    }


def product_summary(row: Row[Any], distance: float | None) -> dict[str, Any]:
    """ProductSummary fields of a row carrying the list statement's columns (other domains' lists)."""
    return _summary(row, distance)


def _page(
    rows: list[Row[Any]], request: ListRequest, distances: dict[uuid.UUID, float] | None, total: int
) -> dict[str, Any]:
    items = rows[: request.limit]
    next_cursor = None
    if len(rows) > request.limit:
        last = items[-1]
        next_cursor = SortCursor(request.sort, last.sort_key, last.id).encode()
    return {
        "items": [_summary(r, distances.get(r.store_id) if distances is not None else None) for r in items],
        "next_cursor": next_cursor,
        "total": total,
    }


async def _cached_total(
    session: AsyncSession, redis: Redis, scope: Scope, request: ListRequest, vendors: Sequence[VisibleVendor]
) -> int:
    """The filtered total: the sum of per-vendor counts, each cached under its vendor's catalog version.

    Buyers of one state see overlapping vendor sets (each set depends on the buyer's position), so the
    counts of one (state, filters) live in one Redis hash, a field per vendor holding `version:count`:
    a buyer's total reuses every count another buyer already paid for, and only the vendors missing or
    changed since are counted again, in one statement. Every product write bumps its vendor's version
    (a trigger) and the version is read by this request's gate, so a count older than what the buyer
    may see is never used; the TTL only bounds memory.
    """
    digest = hashlib.sha256(f"{scope.state}|{request.filters.fingerprint()}".encode()).hexdigest()
    key = f"pf:catalog:counts:{digest[:40]}"
    try:
        cached: list[bytes | str | None] = await redis.hmget(key, [str(v.id) for v in vendors])
    except RedisError as exc:
        log.warning("catalog.cache_unavailable", error=type(exc).__name__)
        cached = [None] * len(vendors)
    total, missing = 0, []
    for vendor, raw in zip(vendors, cached, strict=True):
        version, _, count = (raw.decode() if isinstance(raw, bytes) else raw or "").partition(":")
        if version == str(vendor.version):
            total += int(count)
        else:
            missing.append(vendor)
    if missing:
        counted = await search_repository.count_by_vendor(
            session, Scope(state=scope.state, vendor_ids=[v.id for v in missing]), request.filters
        )
        total += sum(counted.values())
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={str(v.id): f"{v.version}:{counted[v.id]}" for v in missing})
                pipe.expire(key, TOTAL_CACHE_SECONDS)
                await pipe.execute()
        except RedisError as exc:
            log.warning("catalog.cache_unavailable", error=type(exc).__name__)
    return total


async def _cache_get(redis: Redis, key: str) -> bytes | None:
    """A cached value, or None (also when Redis is unavailable: the caller computes it)."""
    try:
        value = await redis.get(key)
    except RedisError as exc:
        log.warning("catalog.cache_unavailable", error=type(exc).__name__)
        return None
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


async def _cache_set(redis: Redis, key: str, value: bytes, seconds: int) -> None:
    try:
        await redis.set(key, value, ex=seconds)
    except RedisError as exc:
        log.warning("catalog.cache_unavailable", error=type(exc).__name__)


async def browse(
    session: AsyncSession, redis: Redis, ctx: StoreCtx, request: ListRequest, state: str | None
) -> dict[str, Any]:
    """GET /api/v1/products: a buyer sees active products of visible vendors; a vendor its own table.

    Uncached (the search bench captures its SQL through it); the route answers with `browse_json`."""
    if ctx.store_type == "vendor":
        return await vendor_table(session, ctx, request)
    requested = _requested_state(ctx, state)
    vendors = await search_repository.visible_vendors(
        session, requested, ctx.store.lat, ctx.store.lng, plan_search=True
    )
    return await _buyer_page(session, redis, requested, vendors, request)


async def browse_json(
    session: AsyncSession, redis: Redis, ctx: StoreCtx, request: ListRequest, state: str | None
) -> bytes:
    """`browse` as the JSON body of the route; a buyer's page comes from the page cache when it can.

    The gate runs on every request (it is the freshness check); a page is cached under the buyer's
    state and position, every visible vendor with its catalog version (so a vendor hidden, shown or
    moved, and any product write of a visible vendor, change the key) and the request itself
    (filters, sort, limit, cursor). Nothing buyer-specific is in a page beyond those inputs.
    """
    if ctx.store_type == "vendor":
        return list_json(await vendor_table(session, ctx, request))
    requested = _requested_state(ctx, state)
    lat, lng = ctx.store.lat, ctx.store.lng
    vendors = await search_repository.visible_vendors(session, requested, lat, lng, plan_search=True)
    if not vendors:
        return list_json(_EMPTY_PAGE)
    key = _page_key(requested, lat, lng, vendors, request)
    cached = await _cache_get(redis, key)
    if cached is not None:
        return cached
    body = list_json(await _buyer_page(session, redis, requested, vendors, request))
    await _cache_set(redis, key, body, PAGE_CACHE_SECONDS)
    return body


_EMPTY_PAGE: dict[str, Any] = {"items": [], "next_cursor": None, "total": 0}


def list_json(page: dict[str, Any]) -> bytes:
    """A list page as the route's JSON body (values already in the ProductSummary shape)."""
    return pydantic_core.to_json({"data": page})


def _versions(vendors: Sequence[VisibleVendor]) -> str:
    return ",".join(f"{v.id}:{v.version}" for v in vendors)


def _page_key(
    state: str, lat: float, lng: float, vendors: Sequence[VisibleVendor], request: ListRequest
) -> str:
    cursor = request.cursor.encode() if request.cursor is not None else ""
    text = (
        f"{state}|{lat!r}|{lng!r}|{_versions(vendors)}|{request.filters.fingerprint()}"
        f"|{request.sort}|{request.limit}|{cursor}"
    )
    return f"pf:catalog:page:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


async def _buyer_page(
    session: AsyncSession, redis: Redis, state: str, vendors: list[VisibleVendor], request: ListRequest
) -> dict[str, Any]:
    """One page of the gated list (the gate already ran, with the search planner settings)."""
    if not vendors:
        return dict(_EMPTY_PAGE)
    scope = Scope(state=state, vendor_ids=[v.id for v in vendors], distances=[v.distance_m for v in vendors])
    rows = await search_repository.list_page(session, scope, request)
    total = await _cached_total(session, redis, scope, request, vendors)
    return _page(rows, request, {v.id: v.distance_m for v in vendors}, total)


async def vendor_table(session: AsyncSession, ctx: StoreCtx, request: ListRequest) -> dict[str, Any]:
    """The vendor's own products, active or not, ungated (commerce.md §4.4)."""
    scope = Scope(state=ctx.store.address_state, store_id=ctx.store_id, include_inactive=True)
    await search_repository.search_planning(session)
    rows = await search_repository.list_page(session, scope, request)
    return _page(rows, request, None, await search_repository.count(session, scope, request.filters))


async def storefront(
    session: AsyncSession, ctx: StoreCtx, store_id: uuid.UUID, request: ListRequest, state: str | None
) -> dict[str, Any]:
    """One vendor's products: everything for the vendor itself, the gated active list for others."""
    vendor = await stores.get_store(session, store_id)
    if vendor is None:
        raise NotFound("store not found")
    if vendor.type != "vendor":
        raise ValidationFailed("store is not a vendor", details={"store_id": "is not a vendor"})
    if vendor.id == ctx.store_id:
        return await vendor_table(session, ctx, request)
    _requested_state(ctx, state)
    if not vendor_visible_to_buyer(vendor, ctx.store):
        raise NotFound("store not found")
    distance = distance_m(vendor.lat, vendor.lng, ctx.store.lat, ctx.store.lng)
    scope = Scope(state=vendor.address_state, vendor_ids=[vendor.id], distances=[distance])
    await search_repository.search_planning(session)
    rows = await search_repository.list_page(session, scope, request)
    total = await search_repository.count(session, scope, request.filters)
    return _page(rows, request, {vendor.id: distance}, total)
