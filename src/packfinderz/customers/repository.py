"""CRM SQL: per-buyer figures aggregated from `vendor_orders`, the hidden-customer rows, recent orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Subquery,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.models.identity import Store
from packfinderz.models.orders import VendorOrder
from packfinderz.models.social import VendorCustomerHide

# Decision (README "Vendor CRM"): every order counts in `order_count` and the first/last order dates;
# orders that ended without a sale (canceled, rejected, expired) add nothing to `total_spent_cents`.
UNSOLD_STATUSES = ("canceled", "rejected", "expired")

ORDERS = VendorOrder.__table__
H = VendorCustomerHide.__table__


def _figures(vendor_store_id: uuid.UUID, buyer_store_id: uuid.UUID | None = None) -> Subquery:
    sold = ORDERS.c.status.not_in(UNSOLD_STATUSES)
    where: list[ColumnElement[bool]] = [ORDERS.c.vendor_store_id == vendor_store_id]
    if buyer_store_id is not None:
        where.append(ORDERS.c.buyer_store_id == buyer_store_id)
    return (
        select(
            ORDERS.c.buyer_store_id.label("buyer_store_id"),
            func.count().label("order_count"),
            cast(func.coalesce(func.sum(ORDERS.c.total_cents).filter(sold), 0), BigInteger).label(
                "total_spent_cents"
            ),
            func.min(ORDERS.c.created_at).label("first_order_at"),
            func.max(ORDERS.c.created_at).label("last_order_at"),
        )
        .where(*where)
        .group_by(ORDERS.c.buyer_store_id)
        .subquery("figures")
    )


def _query(vendor_store_id: uuid.UUID, buyer_store_id: uuid.UUID | None = None) -> tuple[Any, Subquery]:
    figures = _figures(vendor_store_id, buyer_store_id)
    query = (
        select(figures, Store, H.c.hidden_at)
        .join(Store, Store.id == figures.c.buyer_store_id)
        .outerjoin(
            H, and_(H.c.vendor_store_id == vendor_store_id, H.c.buyer_store_id == figures.c.buyer_store_id)
        )
    )
    return query, figures


def _listed(figures: Subquery) -> ColumnElement[bool]:
    """Not hidden, or ordered again after being hidden."""
    return or_(H.c.hidden_at.is_(None), figures.c.last_order_at > H.c.hidden_at)


def _sort_key(figures: Subquery, sort: str) -> ColumnElement[Any]:
    return figures.c.total_spent_cents if sort == "total_spent" else figures.c.last_order_at


async def customers_page(
    session: AsyncSession,
    vendor_store_id: uuid.UUID,
    sort: str,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
) -> list[Row[Any]]:
    """limit + 1 listed customers in (sort key DESC, buyer id DESC) order."""
    query, figures = _query(vendor_store_id)
    key, ident = _sort_key(figures, sort), figures.c.buyer_store_id
    conditions = [_listed(figures)]
    if after is not None:
        conditions.append(tuple_(key, ident) < tuple_(literal(after[0], type_=key.type), literal(after[1])))
    query = query.where(*conditions).order_by(key.desc(), ident.desc()).limit(limit + 1)
    return list((await session.execute(query)).all())


async def customers_count(session: AsyncSession, vendor_store_id: uuid.UUID) -> int:
    query, figures = _query(vendor_store_id)
    counted = select(func.count()).select_from(query.where(_listed(figures)).subquery())
    return int((await session.execute(counted)).scalar_one())


async def customer(
    session: AsyncSession, vendor_store_id: uuid.UUID, buyer_store_id: uuid.UUID
) -> Row[Any] | None:
    """The figures of one buyer (hidden or not); None when it never ordered from the vendor."""
    query, _ = _query(vendor_store_id, buyer_store_id)
    return (await session.execute(query)).one_or_none()


async def recent_orders(
    session: AsyncSession, vendor_store_id: uuid.UUID, buyer_store_id: uuid.UUID, limit: int
) -> list[Row[Any]]:
    query: Select[Any] = (
        select(
            ORDERS.c.id,
            ORDERS.c.order_number,
            ORDERS.c.status,
            ORDERS.c.total_cents,
            ORDERS.c.discounts_cents,
            ORDERS.c.created_at,
        )
        .where(ORDERS.c.vendor_store_id == vendor_store_id, ORDERS.c.buyer_store_id == buyer_store_id)
        .order_by(ORDERS.c.created_at.desc(), ORDERS.c.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def hide(
    session: AsyncSession, vendor_store_id: uuid.UUID, buyer_store_id: uuid.UUID, user_id: uuid.UUID
) -> datetime:
    """Hide the buyer as of now (again, if it was hidden before)."""
    statement = (
        insert(VendorCustomerHide)
        .values(
            vendor_store_id=vendor_store_id,
            buyer_store_id=buyer_store_id,
            hidden_at=func.now(),
            hidden_by_user_id=user_id,
        )
        .on_conflict_do_update(
            index_elements=["vendor_store_id", "buyer_store_id"],
            set_={"hidden_at": func.now(), "hidden_by_user_id": user_id},
        )
        .returning(H.c.hidden_at)
    )
    hidden_at: datetime = (await session.execute(statement)).scalar_one()
    return hidden_at
