"""Review SQL: completed purchases, the one-per-pair insert, the ratings histogram, the visible list."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Integer, Text, cast, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, array, insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_desc
from packfinderz.models.identity import Store
from packfinderz.models.orders import VendorOrder
from packfinderz.models.social import Review

# commerce.md §8.1: a purchase is complete once delivered (and stays so when the payout closes it).
COMPLETED_STATUSES = ("delivered", "closed")


async def completed_order_ids(
    session: AsyncSession, buyer_store_id: uuid.UUID, vendor_store_id: uuid.UUID
) -> set[uuid.UUID]:
    """Orders of the buyer with the vendor that reached delivery."""
    rows = await session.scalars(
        select(VendorOrder.id).where(
            VendorOrder.buyer_store_id == buyer_store_id,
            VendorOrder.vendor_store_id == vendor_store_id,
            VendorOrder.status.in_(COMPLETED_STATUSES),
        )
    )
    return set(rows)


async def insert_store_review(session: AsyncSession, values: dict[str, Any]) -> Review | None:
    """Insert a store review unless the (buyer store, vendor) pair has one; None when it does.

    A concurrent insert of the same pair waits on the partial unique index and then finds the row.
    """
    statement = (
        insert(Review)
        .values(review_type="store", **values)
        .on_conflict_do_nothing(
            index_elements=["buyer_store_id", "vendor_store_id"], index_where=text("review_type = 'store'")
        )
        .returning(Review)
    )
    return (await session.scalars(statement)).one_or_none()


async def bump_rating(session: AsyncSession, vendor_store_id: uuid.UUID, star: int, delta: int) -> None:
    """Add `delta` to one bucket of the vendor's histogram in place (never below zero)."""
    key = str(star)
    current = func.coalesce(cast(Store.ratings.op("->>")(key), Integer), 0)
    await session.execute(
        update(Store)
        .where(Store.id == vendor_store_id)
        .values(
            ratings=func.jsonb_set(
                Store.ratings,
                cast(array([key]), ARRAY(Text)),
                func.to_jsonb(func.greatest(current + delta, 0)),
            )
        )
        .execution_options(synchronize_session=False)
    )


async def get_review(session: AsyncSession, review_id: uuid.UUID) -> Review | None:
    return (await session.scalars(select(Review).where(Review.id == review_id))).one_or_none()


async def delete_authored(
    session: AsyncSession, review_id: uuid.UUID, buyer_store_id: uuid.UUID, buyer_user_id: uuid.UUID
) -> Review | None:
    """Delete the review if this store and user wrote it; the deleted row, once (concurrent deletes race)."""
    statement = (
        delete(Review)
        .where(
            Review.id == review_id,
            Review.buyer_store_id == buyer_store_id,
            Review.buyer_user_id == buyer_user_id,
        )
        .returning(Review)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(statement)).one_or_none()


def _visible_of(vendor_store_id: uuid.UUID) -> list[Any]:
    return [Review.vendor_store_id == vendor_store_id, Review.is_visible]


async def visible_page(session: AsyncSession, vendor_store_id: uuid.UUID, page: PageParams) -> list[Review]:
    """limit + 1 visible reviews of the vendor, newest first."""
    after = after_cursor_desc(Review.created_at, Review.id, page.cursor)
    query = (
        select(Review)
        .where(*_visible_of(vendor_store_id), *([after] if after is not None else []))
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(page.limit + 1)
    )
    return list(await session.scalars(query))


async def visible_count(session: AsyncSession, vendor_store_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Review).where(*_visible_of(vendor_store_id))
    return int((await session.execute(query)).scalar_one())
