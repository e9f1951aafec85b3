"""HTTP: the buyer's cart quote (commerce.md §6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from packfinderz.cart import service
from packfinderz.cart.deps import VerifiedBuyer
from packfinderz.cart.schemas import CartQuote, CartQuoteIn
from packfinderz.kit.appstate import AppSettings
from packfinderz.kit.db import DbSession
from packfinderz.kit.idempotency import idempotent
from packfinderz.kit.openapi import DataResponse, error_responses

router = APIRouter(prefix="/api/v1/cart", tags=["cart"])


@router.post(
    "",
    response_model=DataResponse[CartQuote],
    responses=error_responses(400, 401, 403, 404, 409, 422),
    summary="Quote the whole cart and keep it as the buyer's active cart",
)
@idempotent()
async def quote(
    body: CartQuoteIn, ctx: VerifiedBuyer, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    """Verified buyer, any role. Item and vendor problems are warnings; unknown product or vendor → 404.

    Prices are authoritative and valid for 15 minutes (`valid_until`); inventory is not touched.
    """
    return {"data": await service.quote(session, ctx, body, settings.effective_ads_token_secret)}


@router.get(
    "",
    response_model=DataResponse[CartQuote],
    responses=error_responses(401, 403, 404),
    summary="The buyer's active cart as last quoted",
)
async def current(ctx: VerifiedBuyer, session: DbSession) -> dict[str, Any]:
    """`valid_until` is not extended by reading; no active cart → 404."""
    return {"data": await service.current_quote(session, ctx)}
