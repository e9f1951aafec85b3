"""Catalog search SQL: the buyer gate (visible vendors) and the product list and count pages."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    FromClause,
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.catalog.search import Filters, ListRequest, tsquery_text
from packfinderz.kit.geo import distance_m
from packfinderz.models.catalog import (
    CatalogVersion,
    InventoryItem,
    Product,
    ProductMedia,
)
from packfinderz.models.identity import Store
from packfinderz.models.media import READABLE_STATUSES, Media

# 110 574 m is the shortest length of a degree of latitude: the box never excludes what the exact
# distance admits (commerce.md §5.1).
METRES_PER_DEGREE_LAT = 110_574.0

P = Product.__table__
INV = InventoryItem.__table__


@dataclass(frozen=True)
class VisibleVendor:
    """A vendor a buyer may see, with its distance from the buyer and its catalog version."""

    id: uuid.UUID
    distance_m: float
    version: int


@dataclass(frozen=True)
class Scope:
    """Whose products a list covers.

    Buyer browse: the active products of `vendor_ids` (all in `state`). Store scope: one store's
    products, inactive ones included when `include_inactive` (the vendor's own table).
    """

    state: str
    vendor_ids: Sequence[uuid.UUID] = ()
    distances: Sequence[float] = ()
    store_id: uuid.UUID | None = None
    include_inactive: bool = False


# Planner settings for the list queries of this transaction (set_config(..., true) = SET LOCAL):
# - custom plans: prepared statements switch to a generic plan after five runs, but the best plan here
#   depends on the values (a tsquery, a SKU prefix, how many vendors are visible, a price range) and a
#   generic one can be orders of magnitude slower;
# - no JIT: compiling costs tens of milliseconds, more than these queries ever run;
# - no parallel workers: under concurrent requests they only add start-up cost and contention.
_SEARCH_PLANNING = select(
    func.set_config("plan_cache_mode", "force_custom_plan", True),
    func.set_config("jit", "off", True),
    func.set_config("max_parallel_workers_per_gather", "0", True),
)


async def search_planning(session: AsyncSession) -> None:
    """Plan the transaction's list queries for their actual values (see _SEARCH_PLANNING)."""
    await session.execute(_SEARCH_PLANNING)


# --- the buyer gate --------------------------------------------------------------------------------


def _gate_statement() -> Select[uuid.UUID, float, float, int]:
    """The visible vendors' ids, positions and versions (the SQL distance only decides radius vendors)."""
    lat, lng = bindparam("lat", type_=Float), bindparam("lng", type_=Float)
    distance = func.pf_distance_m(Store.lat, Store.lng, lat, lng, type_=Float)
    return (
        select(Store.id, Store.lat, Store.lng, func.coalesce(CatalogVersion.version, 0))
        .outerjoin(CatalogVersion, CatalogVersion.store_id == Store.id)
        .where(
            Store.type == "vendor",
            Store.kyc_status == "verified",
            Store.subscription_active,
            Store.address_state == bindparam("state", type_=Text),
            or_(
                Store.delivery_radius_meters == 0,
                and_(
                    func.abs(Store.lat - lat)
                    <= cast(Store.delivery_radius_meters, Float) / METRES_PER_DEGREE_LAT,
                    distance <= Store.delivery_radius_meters,
                ),
            ),
        )
    )


_GATE = _gate_statement()
# The gate and the planner settings of the list statement that follows it, in one round trip: the
# settings are an uncorrelated subquery (run once, before the first row) that is never null.
_GATE_THEN_PLAN = _GATE.where(
    select(func.concat(*_SEARCH_PLANNING.selected_columns)).scalar_subquery().is_not(None)
)


async def visible_vendors(
    session: AsyncSession, state: str, lat: float, lng: float, *, plan_search: bool = False
) -> list[VisibleVendor]:
    """Vendors passing the gate of commerce.md §3 for a buyer at (lat, lng) in `state`, nearest first.

    The distances are computed here rather than in SQL, for every vendor: the same float64 formula
    costs the database far more per row than Python, and the gate runs on every search.
    `plan_search`: also apply `search_planning` for the rest of the transaction (same statement).
    """
    statement = _GATE_THEN_PLAN if plan_search else _GATE
    rows = await session.execute(statement, {"state": state, "lat": lat, "lng": lng})
    vendors = [VisibleVendor(r[0], distance_m(r[1], r[2], lat, lng), r[3]) for r in rows]
    vendors.sort(key=lambda v: (v.distance_m, v.id))
    return vendors


# --- product lists ---------------------------------------------------------------------------------
# A list statement is built once per *shape* (scope kind, sort, which filters are set, text or not,
# cursor or not) and cached; every value travels as a bind parameter.


@dataclass(frozen=True)
class _Shape:
    """What decides the SQL of a list statement."""

    store_scope: bool
    include_inactive: bool
    filters: frozenset[str]
    text: bool
    words: bool
    sort: str = "newest"
    cursor: bool = False


_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "category": lambda: P.c.category == bindparam("category", type_=Text),
    "classification": lambda: P.c.classification == bindparam("classification", type_=Text),
    "price_min_cents": lambda: P.c.price_cents >= bindparam("price_min_cents", type_=BigInteger),
    "price_max_cents": lambda: P.c.price_cents <= bindparam("price_max_cents", type_=BigInteger),
    # A null percent never matches a bound (SQL comparisons with null are not true).
    "thc_min": lambda: P.c.thc_percent >= bindparam("thc_min", type_=Numeric(5, 2)),
    "thc_max": lambda: P.c.thc_percent <= bindparam("thc_max", type_=Numeric(5, 2)),
    "cbd_min": lambda: P.c.cbd_percent >= bindparam("cbd_min", type_=Numeric(5, 2)),
    "cbd_max": lambda: P.c.cbd_percent <= bindparam("cbd_max", type_=Numeric(5, 2)),
    "has_promo": lambda: P.c.has_promo == bindparam("has_promo", type_=Boolean),
    "vendor_store_id": lambda: P.c.store_id == bindparam("vendor_store_id", type_=PgUUID()),
}
_CURSOR_KEY_TYPES: dict[str, Any] = {
    "newest": DateTime(timezone=True),
    "price_asc": BigInteger(),
    "price_desc": BigInteger(),
    "distance": Float(),
    "relevance": Float(),
}
DESCENDING = frozenset({"newest", "price_desc", "relevance"})


def _shape(scope: Scope, filters: Filters, sort: str = "newest", cursor: bool = False) -> _Shape:
    present = frozenset(name for name in _FILTERS if getattr(filters, name) is not None)
    return _Shape(
        store_scope=scope.store_id is not None,
        include_inactive=scope.include_inactive,
        filters=present,
        text=filters.q is not None,
        words=bool(filters.words),
        sort=sort,
        cursor=cursor,
    )


def _params(scope: Scope, filters: Filters, request: ListRequest | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"state": scope.state}
    if scope.store_id is not None:
        values["store_id"] = scope.store_id
    else:
        values["vendor_ids"] = list(scope.vendor_ids)
    values.update({name: getattr(filters, name) for name in _FILTERS if getattr(filters, name) is not None})
    if filters.q is not None:
        values["q"] = filters.q
        values["tsq_scoped"] = tsquery_text(filters.words, scope.state)
        values["tsq_plain"] = tsquery_text(filters.words)
    if request is not None:
        values["fetch"] = request.limit + 1
        if request.sort == "distance":
            values["distances"] = list(scope.distances)
            values.setdefault("vendor_ids", list(scope.vendor_ids))
        if request.cursor is not None:
            values["cursor_key"] = request.cursor.key
            values["cursor_id"] = request.cursor.id
    return values


def _sku_prefix() -> ColumnElement[bool]:
    """lower(sku) starts with lower(q), written as the range the SKU index answers directly.

    The upper bound appends U+10FFFF (the largest code point), so it only misses SKUs that continue
    with that unassigned character. Range operators (unlike LIKE) stay indexable with a bound
    parameter and let the planner see that the index bitmap already decided the condition.
    """
    low = func.lower(bindparam("q", type_=Text))
    return and_(
        func.lower(P.c.sku).op("~>=~")(low),
        func.lower(P.c.sku).op("~<~")(low.op("||")(func.chr(0x10FFFF))),
    )


def _text_match(shape: _Shape) -> list[ColumnElement[bool]]:
    """`q` (commerce.md §5.2): every token as a prefix in the document, or the whole q as a SKU prefix.

    Two equivalent conditions: the state-scoped one is what the indexes answer (GIN or SKU prefix,
    ORed in one bitmap); the plain one is cheap to check on each fetched row.
    """
    sku = _sku_prefix()
    if not shape.words:
        return [sku]
    scoped = func.pf_scoped_tsv(P.c.vendor_state, P.c.search_tsv).op("@@")(
        cast(bindparam("tsq_scoped", type_=Text), TSQUERY)
    )
    plain = P.c.search_tsv.op("@@")(cast(bindparam("tsq_plain", type_=Text), TSQUERY))
    return [or_(scoped, sku), or_(plain, sku)]


def _rank(shape: _Shape) -> ColumnElement[float]:
    """ts_rank_cd of the tokens, plus 1.0 for an exact SKU or 0.5 for a SKU prefix."""
    sku, q = func.lower(P.c.sku), func.lower(bindparam("q", type_=Text))
    bonus = case((sku == q, literal(1.0)), (func.starts_with(sku, q), literal(0.5)), else_=literal(0.0))
    if not shape.words:
        return cast(bonus, Float)
    text_rank = func.ts_rank_cd(P.c.search_tsv, cast(bindparam("tsq_plain", type_=Text), TSQUERY))
    return cast(text_rank, Float) + bonus


def _own_rows(shape: _Shape) -> list[ColumnElement[bool]]:
    """The scope's rows matching the column filters, the visible-vendor set apart."""
    conditions: list[ColumnElement[bool]] = [P.c.vendor_state == bindparam("state", type_=Text)]
    if shape.store_scope:
        conditions.append(P.c.store_id == bindparam("store_id", type_=PgUUID()))
    if not shape.include_inactive:
        conditions.append(P.c.is_active)
    return conditions + [_FILTERS[name]() for name in sorted(shape.filters)]


def _visible(shape: _Shape, store_id: ColumnElement[uuid.UUID]) -> list[ColumnElement[bool]]:
    if shape.store_scope:
        return []
    return [store_id == func.any(bindparam("vendor_ids", type_=ARRAY(PgUUID())))]


@dataclass(frozen=True)
class _Source:
    """Where a list reads from: the products table, or the materialized text matches of a `q`."""

    table: FromClause
    where: list[ColumnElement[bool]]
    columns: Mapping[str, ColumnElement[Any]]


def _source(shape: _Shape) -> _Source:
    if not shape.text:
        keys = {"newest": P.c.created_at, "price_asc": P.c.price_cents, "price_desc": P.c.price_cents}
        return _Source(
            P,
            _own_rows(shape) + _visible(shape, P.c.store_id),
            {**keys, "id": P.c.id, "store_id": P.c.store_id},
        )
    # Text first: the state's matches come from one index bitmap and are materialized, then the
    # visible-vendor set filters them. Left to itself the planner would AND in a bitmap of every
    # visible vendor's rows, which costs far more than the heap rows it saves.
    # The rank (ts_rank_cd per match) is only computed when the list is sorted by it.
    ranked = [_rank(shape).label("rank")] if shape.sort == "relevance" else []
    matches = (
        select(P.c.id, P.c.store_id, P.c.created_at, P.c.price_cents, *ranked)
        .where(*_own_rows(shape), *_text_match(shape))
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    columns = {
        "newest": matches.c.created_at,
        "price_asc": matches.c.price_cents,
        "price_desc": matches.c.price_cents,
        **({"relevance": matches.c.rank} if ranked else {}),
        "id": matches.c.id,
        "store_id": matches.c.store_id,
    }
    return _Source(matches, _visible(shape, matches.c.store_id), columns)


def _after(shape: _Shape, key: ColumnElement[Any], row_id: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    if not shape.cursor:
        return []
    position = tuple_(
        bindparam("cursor_key", type_=_CURSOR_KEY_TYPES[shape.sort]), bindparam("cursor_id", type_=PgUUID())
    )
    row = tuple_(key, row_id)
    return [row < position if shape.sort in DESCENDING else row > position]


def _page_ids(shape: _Shape) -> Select[Any]:
    """The ids (and sort keys) of one page: limit + 1 rows, to tell whether a next page exists."""
    if shape.sort == "distance":
        return _distance_page(shape)
    source = _source(shape)
    key, row_id = source.columns[shape.sort], source.columns["id"]
    order = (key.desc(), row_id.desc()) if shape.sort in DESCENDING else (key.asc(), row_id.asc())
    return (
        select(row_id.label("id"), key.label("sort_key"))
        .select_from(source.table)
        .where(*source.where, *_after(shape, key, row_id))
        .order_by(*order)
        .limit(bindparam("fetch", type_=Integer))
    )


def _distance_page(shape: _Shape) -> Select[Any]:
    """Nearest vendors first, each vendor's products by id; distances come from the gate query."""
    vendor_ids = func.unnest(bindparam("vendor_ids", type_=ARRAY(PgUUID()))).label("store_id")
    distances = func.unnest(bindparam("distances", type_=ARRAY(Float()))).label("distance_m")
    vendors = select(vendor_ids, distances).order_by(distances).subquery("v")
    distance, fetch = vendors.c.distance_m, bindparam("fetch", type_=Integer)
    if shape.text:
        source = _source(shape)
        row_id = source.columns["id"]
        return (
            select(row_id.label("id"), distance.label("sort_key"))
            .select_from(source.table)
            .join(vendors, vendors.c.store_id == source.columns["store_id"])
            .where(*_after(shape, distance, row_id))
            .order_by(distance, row_id)
            .limit(fetch)
        )
    # Walk each vendor's active rows by id (one index range per vendor) in distance order: the outer
    # rows come presorted by distance, so the walk stops as soon as the page is full.
    inner = [*_own_rows(shape), P.c.store_id == vendors.c.store_id]
    outer: list[ColumnElement[bool]] = []
    if shape.cursor:
        key = bindparam("cursor_key", type_=Float)
        inner.append(or_(distance > key, P.c.id > bindparam("cursor_id", type_=PgUUID())))
        outer.append(distance >= key)
    per_vendor = select(P.c.id).where(*inner).order_by(P.c.id).limit(fetch).lateral("p")
    return (
        select(per_vendor.c.id, distance.label("sort_key"))
        .select_from(vendors)
        .join(per_vendor, true())
        .where(*outer)
        .order_by(distance, per_vendor.c.id)
        .limit(fetch)
    )


_THUMB = ProductMedia.__table__.alias("thumb")
_THUMB_MEDIA = Media.__table__.alias("thumb_media")

# The ProductSummary columns (commerce.md §5) and the joins they read: search pages and wishlists share them.
SUMMARY_COLUMNS = (
    P.c.id,
    P.c.store_id,
    P.c.sku,
    P.c.title,
    P.c.subtitle,
    P.c.brand,
    P.c.strain,
    P.c.category,
    P.c.classification,
    P.c.unit,
    P.c.moq,
    P.c.max_qty,
    P.c.price_cents,
    P.c.compare_at_price_cents,
    P.c.thc_percent,
    P.c.cbd_percent,
    P.c.has_promo,
    P.c.coa_added,
    P.c.is_active,
    P.c.created_at,
    P.c.updated_at,
    INV.c.available_qty,
    INV.c.reserved_qty,
    INV.c.low_stock_threshold,
    INV.c.updated_at.label("inventory_updated_at"),
    _THUMB_MEDIA.c.public_url.label("thumbnail_url"),
)


def with_summary_joins(query: Select[Any]) -> Select[Any]:
    """Join the inventory row and the readable first gallery image of the selected products (P)."""
    return (
        query.outerjoin(INV, INV.c.product_id == P.c.id)
        .outerjoin(_THUMB, and_(_THUMB.c.product_id == P.c.id, _THUMB.c.position == 0))
        .outerjoin(
            _THUMB_MEDIA,
            and_(_THUMB_MEDIA.c.id == _THUMB.c.media_id, _THUMB_MEDIA.c.status.in_(READABLE_STATUSES)),
        )
    )


@functools.lru_cache(maxsize=512)
def _list_statement(shape: _Shape) -> Select[Any]:
    """Page ids, then their summaries (inventory, thumbnail) in one statement."""
    page = _page_ids(shape).subquery("page")
    if shape.sort in DESCENDING:
        order = (page.c.sort_key.desc(), page.c.id.desc())
    else:
        order = (page.c.sort_key.asc(), page.c.id.asc())
    query = select(*SUMMARY_COLUMNS, page.c.sort_key).select_from(page).join(P, P.c.id == page.c.id)
    return with_summary_joins(query).order_by(*order)


@functools.lru_cache(maxsize=256)
def _count_statement(shape: _Shape) -> Select[Any]:
    source = _source(shape)
    return select(func.count()).select_from(source.table).where(*source.where)


async def list_page(session: AsyncSession, scope: Scope, request: ListRequest) -> list[Row[Any]]:
    """limit + 1 summary rows in the request's order."""
    shape = _shape(scope, request.filters, request.sort, request.cursor is not None)
    result = await session.execute(_list_statement(shape), _params(scope, request.filters, request))
    return list(result.all())


@functools.lru_cache(maxsize=256)
def _count_by_vendor_statement(shape: _Shape) -> Select[Any]:
    source = _source(shape)
    store_id = source.columns["store_id"]
    return select(store_id, func.count()).select_from(source.table).where(*source.where).group_by(store_id)


async def count_by_vendor(session: AsyncSession, scope: Scope, filters: Filters) -> dict[uuid.UUID, int]:
    """The filtered set's size per vendor of a buyer scope (0 for a vendor with no matching product)."""
    shape = _shape(scope, filters)
    rows = await session.execute(_count_by_vendor_statement(shape), _params(scope, filters))
    found = {row[0]: int(row[1]) for row in rows}
    return {vendor_id: found.get(vendor_id, 0) for vendor_id in scope.vendor_ids}


async def count(session: AsyncSession, scope: Scope, filters: Filters) -> int:
    """Size of the whole filtered set."""
    result = await session.execute(_count_statement(_shape(scope, filters)), _params(scope, filters))
    return int(result.scalar_one())
