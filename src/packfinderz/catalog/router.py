"""HTTP: vendor products and inventory, buyer browse and search, detail, storefront (commerce.md §4, §5)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from packfinderz.auth.deps import StoreContext, StoreCtx, VendorStore, require_store
from packfinderz.catalog import service
from packfinderz.catalog.schemas import (
    MAX_CENTS,
    Classification,
    InventoryPut,
    InventoryRow,
    ProductCreate,
    ProductDTO,
    ProductSummary,
    ProductUpdate,
)
from packfinderz.catalog.search import Filters, ListRequest, Sort
from packfinderz.kit.appstate import AppRedis
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorQuery, PageEnvelope
from packfinderz.models.identity import Category

router = APIRouter(prefix="/api/v1", tags=["catalog"])

WRITER_ROLES = frozenset({"owner", "manager", "ops"})


# A vendor store member allowed to write products and inventory (not staff).
VendorWriter = Annotated[StoreCtx, require_store("vendor", *WRITER_ROLES)]


def _list_response(page: dict[str, Any]) -> Response:
    """A list page as JSON. The service builds plain values in the ProductSummary shape (declared as
    the route's response_model for the docs); serializing them directly skips a second validation of
    every row on the hottest route."""
    return Response(content=service.list_json(page), media_type="application/json")


# Percentages travel as plain numbers (no `anyOf[number, string]`); the filter compares them as decimals.
Percent = Annotated[float | None, Query(ge=0, le=100, allow_inf_nan=False, description="Percent, 0..100.")]
PriceCents = Annotated[int | None, Query(ge=0, le=MAX_CENTS, description="Cents, 0..10^13.")]


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class ListQuery:
    """The query string of a product list, parsed; the caller decides which sorts apply."""

    filters: Filters
    sort: Sort
    limit: int
    cursor: str | None

    def request(self, *, buyer: bool) -> ListRequest:
        return ListRequest.build(self.filters, self.sort, self.limit, self.cursor, buyer=buyer)


async def _list_query(
    *,
    category: Annotated[Category | None, Query()] = None,
    classification: Annotated[Classification | None, Query()] = None,
    price_min_cents: PriceCents = None,
    price_max_cents: PriceCents = None,
    thc_min: Percent = None,
    thc_max: Percent = None,
    cbd_min: Percent = None,
    cbd_max: Percent = None,
    has_promo: Annotated[bool | None, Query()] = None,
    vendor_store_id: Annotated[uuid.UUID | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
            description="Text search (§5.2): every word matches as a prefix; not blank, no NUL character.",
        ),
    ] = None,
    sort: Annotated[
        Sort,
        Query(description="`relevance` needs `q`; `distance` is for buyers only (both else 400)."),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> ListQuery:
    filters = Filters(
        category=category,
        classification=classification,
        price_min_cents=price_min_cents,
        price_max_cents=price_max_cents,
        thc_min=_decimal(thc_min),
        thc_max=_decimal(thc_max),
        cbd_min=_decimal(cbd_min),
        cbd_max=_decimal(cbd_max),
        has_promo=has_promo,
        vendor_store_id=vendor_store_id,
        q=q,
    )
    return ListQuery(filters, sort, limit, cursor)


Listing = Annotated[ListQuery, Depends(_list_query)]
RequestedState = Annotated[
    str | None,
    Query(
        pattern="^[A-Za-z]{2}$",
        description="Two-letter state code (any case); must be the buyer's own state (else 422).",
    ),
]


# --- vendor products -------------------------------------------------------------------------------


@router.post(
    "/vendor/products",
    status_code=201,
    response_model=DataResponse[ProductDTO],
    responses=error_responses(400, 401, 403, 409, 422),
    summary="Create a product with its inventory, tiers and gallery",
)
@idempotent()
async def create_product(body: ProductCreate, ctx: VendorWriter, session: DbSession) -> dict[str, Any]:
    """Vendor owner, manager or ops. SKU taken in the store → 409.

    Rules the schema cannot state (each a 400 with `details`): `max_qty` is 0 (no cap) or at least `moq`;
    `volume_discounts` have distinct `min_qty`; `media_ids` are the store's own product media and
    `coa_media_id` its own COA."""
    return {"data": await service.create_product(session, ctx, body)}


@router.patch(
    "/vendor/products/{product_id}",
    response_model=DataResponse[ProductDTO],
    responses=error_responses(400, 401, 403, 404, 409),
    summary="Update a product",
)
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, ctx: VendorWriter, session: DbSession
) -> dict[str, Any]:
    """Omitted = unchanged, `null` clears; `volume_discounts` and `media_ids` replace their sets.

    Vendor owner, manager or ops; another store's product → 404. As on create (400 with `details`):
    `max_qty` 0 or at least `moq`, distinct tier `min_qty`, the store's own media; SKU taken → 409."""
    return {"data": await service.update_product(session, ctx, product_id, body)}


@router.delete(
    "/vendor/products/{product_id}",
    status_code=204,
    responses=error_responses(
        400, 401, 403, 404, 409, s409="CONFLICT: stock is reserved; deactivate instead."
    ),
    summary="Delete a product",
)
async def delete_product(product_id: uuid.UUID, ctx: VendorWriter, session: DbSession) -> Response:
    """Vendor owner, manager or ops; another store's product → 404. Stock reserved by open orders → 409
    (deactivate the product instead); ordered lines keep their snapshot."""
    await service.delete_product(session, ctx, product_id)
    return Response(status_code=204)


@router.get(
    "/vendor/products",
    response_model=PageEnvelope[ProductSummary],
    responses=error_responses(400, 401, 403),
    summary="The vendor's product table (inactive included), with total",
)
async def vendor_products(ctx: VendorStore, session: DbSession, listing: Listing) -> Response:
    """Any vendor member. Filters as in browse; `relevance` needs `q`; `distance` is refused (buyers only);
    a minimum above its maximum (price, THC, CBD) → 400."""
    return _list_response(await service.vendor_table(session, ctx, listing.request(buyer=False)))


# --- inventory -------------------------------------------------------------------------------------


@router.get(
    "/inventory",
    response_model=PageEnvelope[InventoryRow],
    responses=error_responses(400, 401, 403),
    summary="The vendor's inventory rows, newest product first",
)
async def inventory(
    ctx: VendorStore,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..100.")] = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Any vendor member; `low_stock` when sellable stock is at or below the threshold."""
    items, next_cursor = await service.inventory_list(session, ctx, limit, cursor)
    return {"data": {"items": items, "next_cursor": next_cursor}}


@router.put(
    "/inventory/{product_id}",
    response_model=DataResponse[InventoryRow],
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Set a product's sellable stock",
)
@idempotent()
async def put_inventory(
    product_id: uuid.UUID, body: InventoryPut, ctx: VendorWriter, session: DbSession
) -> dict[str, Any]:
    """`available_qty` is sellable stock, net of reservations; crossing the threshold notifies the store."""
    return {"data": await service.put_inventory(session, ctx, product_id, body)}


# --- browse, detail, storefront --------------------------------------------------------------------


@router.get(
    "/products",
    response_model=PageEnvelope[ProductSummary],
    responses=error_responses(400, 401, 403, 422),
    summary="Browse and search products, with total",
)
async def browse(
    ctx: StoreContext, session: DbSession, redis: AppRedis, listing: Listing, state: RequestedState = None
) -> Response:
    """Buyers: active products of visible vendors in their state; vendors: their own products.

    Rules the schema cannot state (each a 400 with `details`): `sort=relevance` needs `q`;
    `sort=distance` is for buyers only; `price_min_cents`, `thc_min`, `cbd_min` must not exceed their
    maximum; a cursor is only valid with the sort that produced it. `state` other than the buyer's → 422.
    """
    request = listing.request(buyer=ctx.store_type == "buyer")
    body = await service.browse_json(session, redis, ctx, request, state)
    return Response(content=body, media_type="application/json")


@router.get(
    "/products/{product_id}",
    response_model=DataResponse[ProductDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="One product",
)
async def product_detail(product_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Buyers get 404 for hidden vendors or inactive products (never 403); vendors read only their own."""
    return {"data": await service.product_detail(session, ctx, product_id)}


@router.get(
    "/stores/{store_id}/products",
    response_model=PageEnvelope[ProductSummary],
    responses=error_responses(400, 401, 403, 404, 422),
    summary="A vendor's storefront, with total",
)
async def storefront(
    store_id: uuid.UUID, ctx: StoreContext, session: DbSession, listing: Listing, state: RequestedState = None
) -> Response:
    """The vendor sees everything; any other store is the buyer context of the gate (hidden → 404).

    The store must be a vendor (else 400). Filters, sorts and their rules as in browse (`relevance` needs
    `q`, `distance` is for buyers, minimums must not exceed maximums: 400); `state` other than the
    buyer's → 422.
    """
    request = listing.request(buyer=store_id != ctx.store_id)
    return _list_response(await service.storefront(session, ctx, store_id, request, state))
