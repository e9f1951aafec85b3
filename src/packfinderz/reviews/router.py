"""HTTP: POST/DELETE /api/v1/reviews and GET /api/v1/stores/{store_id}/reviews (identity.md §14)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from packfinderz.auth.deps import StoreContext
from packfinderz.kit.db import DbSession
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.reviews import service
from packfinderz.reviews.schemas import REVIEW_EXAMPLE, ReviewDTO, ReviewIn

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])
store_reviews_router = APIRouter(prefix="/api/v1/stores", tags=["reviews"])
Page = Annotated[PageParams, Depends(page_params)]


@router.post(
    "",
    status_code=201,
    response_model=DataResponse[ReviewDTO],
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        s400="VALIDATION_ERROR: invalid fields; reviewing the active store; `no completed purchase from this "
        "vendor`; an `order_id` that is not one of them.",
        s404="NOT_FOUND: no such vendor store, or it is hidden from the active store.",
        s409="CONFLICT `review already exists`: the active store has reviewed this vendor.",
    ),
    summary="Review a vendor the active store bought from",
)
async def create_review(body: ReviewIn, ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Any member of a store with a delivered or closed order from the vendor; one review per store and
    vendor. Stored verified and visible; the vendor's `ratings` histogram counts it at once."""
    return {"data": await service.create(session, ctx, body)}


@router.delete(
    "/{review_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        400,
        401,
        403,
        404,
        s403="FORBIDDEN: another member of the store wrote it.",
        s404="NOT_FOUND: no such review in the active store.",
    ),
    summary="Delete the caller's review",
)
async def delete_review(review_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> Response:
    """The author only (same store and user); the vendor's histogram drops it in the same transaction."""
    await service.delete(session, ctx, review_id)
    return Response(status_code=204)


@store_reviews_router.get(
    "/{store_id}/reviews",
    response_model=PageEnvelope[ReviewDTO],
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"data": {"items": [REVIEW_EXAMPLE], "next_cursor": None, "total": 1}}
                }
            }
        },
        **error_responses(
            400, 401, 403, 404, s404="NOT_FOUND: no such vendor store, or it is hidden from the active store."
        ),
    },
    summary="A vendor's visible reviews, newest first, with total",
)
async def list_store_reviews(
    store_id: uuid.UUID, ctx: StoreContext, session: DbSession, page: Page
) -> dict[str, Any]:
    """Any store user; a buyer sees a vendor's reviews only through the visibility gate (else 404)."""
    return {"data": await service.list_for_store(session, ctx, store_id, page)}
