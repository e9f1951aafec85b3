"""Store review rules (identity.md §14).

- The vendor must exist, be a vendor and, for a buyer, pass the visibility gate (commerce.md §3): else
  404, so hidden vendors cannot be probed. Reviewing the active store itself is a 400.
- Verified purchase **(decision, spec)**: at least one order of the active store with that vendor in
  `delivered` or `closed`; a given `order_id` must be one of them (400).
- One store review per (buyer store, vendor), whichever member writes it: a partial unique index
  decides races between members (409 `review already exists`).
- The vendor's `ratings` histogram changes in the same transaction as the insert and the delete.
- Delete: the author only (same buyer store and user, else 403); a review of another store is a
  foreign object (404), like every other store's row.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import StoreCtx
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from packfinderz.kit.pagination import PageParams, build_page
from packfinderz.models.identity import Store
from packfinderz.reviews import repository
from packfinderz.reviews.schemas import ReviewDTO, ReviewIn
from packfinderz.stores import repository as stores
from packfinderz.stores.service import vendor_visible_to_buyer

UNIQUE_INDEX = "uq_reviews_store_review"


async def _vendor_for(session: AsyncSession, ctx: StoreCtx, store_id: uuid.UUID) -> Store:
    """The vendor store as the caller may see it: missing, not a vendor or hidden → 404."""
    store = await stores.get_store(session, store_id)
    if store is None or store.type != "vendor":
        raise NotFound("store not found")
    buyer_meets_vendor = ctx.store_type == "buyer" and store.id != ctx.store_id
    if buyer_meets_vendor and not vendor_visible_to_buyer(store, ctx.store):
        raise NotFound("store not found")
    return store


async def create(session: AsyncSession, ctx: StoreCtx, body: ReviewIn) -> ReviewDTO:
    """Write the active store's review of a vendor and count it in the vendor's histogram."""
    if body.vendor_store_id == ctx.store_id:
        raise ValidationFailed(details={"vendor_store_id": "cannot review the active store"})
    vendor = await _vendor_for(session, ctx, body.vendor_store_id)
    completed = await repository.completed_order_ids(session, ctx.store_id, vendor.id)
    if not completed:
        raise ValidationFailed("no completed purchase from this vendor")
    if body.order_id is not None and body.order_id not in completed:
        raise ValidationFailed(
            details={"order_id": "must be a delivered or closed order of this store with this vendor"}
        )
    review = await repository.insert_store_review(
        session,
        {
            "buyer_store_id": ctx.store_id,
            "vendor_store_id": vendor.id,
            "buyer_user_id": ctx.user_id,
            "order_id": body.order_id,
            "rating": body.rating,
            "title": body.title,
            "body": body.body,
            "is_verified_purchase": True,
            "is_visible": True,
        },
    )
    if review is None:
        raise Conflict("review already exists", details={"constraint": UNIQUE_INDEX})
    await repository.bump_rating(session, vendor.id, review.rating, +1)
    return ReviewDTO.model_validate(review)


async def delete(session: AsyncSession, ctx: StoreCtx, review_id: uuid.UUID) -> None:
    """Delete the caller's own review and take it out of the vendor's histogram."""
    deleted = await repository.delete_authored(session, review_id, ctx.store_id, ctx.user_id)
    if deleted is None:
        existing = await repository.get_review(session, review_id)
        if existing is None or existing.buyer_store_id != ctx.store_id:
            raise NotFound("review not found")
        raise Forbidden("only the author may delete this review")
    if deleted.is_visible:
        await repository.bump_rating(session, deleted.vendor_store_id, deleted.rating, -1)


async def list_for_store(
    session: AsyncSession, ctx: StoreCtx, store_id: uuid.UUID, page: PageParams
) -> dict[str, Any]:
    """Visible reviews of a vendor the caller may see, newest first, with total."""
    vendor = await _vendor_for(session, ctx, store_id)
    rows = await repository.visible_page(session, vendor.id, page)
    items, cursor = build_page(rows, page.limit)
    return {
        "items": [ReviewDTO.model_validate(row) for row in items],
        "next_cursor": cursor,
        "total": await repository.visible_count(session, vendor.id),
    }
