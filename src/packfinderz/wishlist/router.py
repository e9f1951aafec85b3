"""HTTP: /api/v1/wishlist (identity.md §13; store context, any store type and role)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from packfinderz.auth.deps import StoreContext
from packfinderz.kit.db import DbSession
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.wishlist import service
from packfinderz.wishlist.schemas import WishlistAddIn, WishlistEntry, WishlistItemDTO, list_example

router = APIRouter(prefix="/api/v1/wishlist", tags=["wishlist"])
Page = Annotated[PageParams, Depends(page_params)]

_IDS_EXAMPLE = {
    "data": {"items": ["5b7c1d7e-3a52-4c41-9a0e-2f1b8c6d4e10"], "next_cursor": None},
}
_ENTRY_EXAMPLE = {
    "data": {"product_id": "5b7c1d7e-3a52-4c41-9a0e-2f1b8c6d4e10", "created_at": "2026-12-07T12:00:00Z"}
}


@router.get(
    "",
    response_model=PageEnvelope[WishlistItemDTO],
    responses={
        200: {"content": {"application/json": {"example": list_example()}}},
        **error_responses(400, 401, 403),
    },
    summary="The active store's wishlist (visible products only), with total",
)
async def list_wishlist(ctx: StoreContext, session: DbSession, page: Page) -> dict[str, Any]:
    """Any member. Newest first; the cursor is on the wishlist row. Products that are inactive or whose
    vendor the store cannot see (visibility gate) are left out, and out of `total`, while that lasts."""
    return {"data": await service.list_items(session, ctx, page)}


@router.get(
    "/ids",
    response_model=PageEnvelope[uuid.UUID],
    responses={
        200: {"content": {"application/json": {"example": _IDS_EXAMPLE}}},
        **error_responses(400, 401, 403),
    },
    summary="The product ids of the active store's wishlist (visible products only)",
)
async def list_wishlist_ids(ctx: StoreContext, session: DbSession, page: Page) -> dict[str, Any]:
    """Any member; the same rows as the list, ids only (for heart icons on product cards)."""
    return {"data": await service.list_ids(session, ctx, page)}


@router.post(
    "/items",
    status_code=201,
    response_model=DataResponse[WishlistEntry],
    responses={
        201: {"content": {"application/json": {"example": _ENTRY_EXAMPLE}}},
        200: {"model": DataResponse[WishlistEntry], "description": "Already on the wishlist: unchanged."},
        **error_responses(
            400, 401, 403, 404, s404="NOT_FOUND: no such product, inactive, or its vendor is hidden."
        ),
    },
    summary="Add a product to the wishlist",
)
async def add_wishlist_item(
    body: WishlistAddIn, ctx: StoreContext, session: DbSession, response: Response
) -> dict[str, Any]:
    """Any member. 201 when added, 200 with the same body when it was there already (naturally idempotent:
    no Idempotency-Key)."""
    entry, created = await service.add(session, ctx, body.product_id)
    if not created:
        response.status_code = 200
    return {"data": entry}


@router.delete(
    "/items/{product_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403),
    summary="Remove a product from the wishlist",
)
async def remove_wishlist_item(product_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> Response:
    """Any member; 204 also when the product was not on the wishlist."""
    await service.remove(session, ctx, product_id)
    return Response(status_code=204)
