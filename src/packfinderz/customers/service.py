"""Vendor CRM rules.

- Customers are derived, never stored: every buyer store with at least one order with the vendor.
- Figures (decision, README "Vendor CRM"): `order_count`, `first_order_at`, `last_order_at` over every
  order in any status; `total_spent_cents` = Σ `total_cents` of orders not canceled, rejected or
  expired (orders in progress count at their current total).
- Hiding (DELETE) only removes the buyer from the list, as of now; an order placed afterwards lists it
  again. The detail answers for hidden buyers too (`hidden: true`).
- A buyer that never ordered from this vendor is 404, hidden or not.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.auth.deps import StoreCtx
from packfinderz.customers import repository
from packfinderz.customers.schemas import CustomerDetail, CustomerDTO, CustomerOrder, CustomerSort
from packfinderz.kit.errors import NotFound, ValidationFailed
from packfinderz.orders.schemas import StoreCard
from packfinderz.orders.service import party

RECENT_ORDERS = 10


def encode_cursor(sort: str, key: Any, buyer_id: uuid.UUID) -> str:
    """base64url of `<sort>|<key>|<buyer id>`: the key is µs UTC for last_order, cents for total_spent."""
    value = int(key.astimezone(UTC).timestamp() * 1_000_000) if isinstance(key, datetime) else int(key)
    raw = f"{sort}|{value}|{buyer_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> tuple[Any, uuid.UUID]:
    """The cursor's (key, buyer id); a malformed one or one of another sort is 400."""
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        kind, value, ident = raw.split("|")
        if kind != sort:
            raise ValueError(kind)
        number = int(value)
        key: Any = datetime.fromtimestamp(number / 1_000_000, UTC) if sort == "last_order" else number
        return key, uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise ValidationFailed(details={"cursor": "is invalid"}) from None


def _figures(row: Any) -> dict[str, Any]:
    return {
        "order_count": int(row.order_count),
        "total_spent_cents": int(row.total_spent_cents),
        "first_order_at": row.first_order_at,
        "last_order_at": row.last_order_at,
    }


def _card(row: Any) -> StoreCard:
    store = row.Store
    return StoreCard(
        id=store.id, company_name=store.company_name, dba_name=store.dba_name, logo_url=store.logo_url
    )


async def list_customers(
    session: AsyncSession, ctx: StoreCtx, sort: CustomerSort, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Listed customers (not hidden, or ordering again since), by last order or spend, with total."""
    after = decode_cursor(sort, cursor) if cursor else None
    rows = await repository.customers_page(session, ctx.store_id, sort, limit, after)
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        key = last.total_spent_cents if sort == "total_spent" else last.last_order_at
        next_cursor = encode_cursor(sort, key, last.buyer_store_id)
    return {
        "items": [CustomerDTO(buyer=_card(row), **_figures(row)) for row in items],
        "next_cursor": next_cursor,
        "total": await repository.customers_count(session, ctx.store_id),
    }


async def _customer(session: AsyncSession, ctx: StoreCtx, buyer_store_id: uuid.UUID) -> Any:
    row = await repository.customer(session, ctx.store_id, buyer_store_id)
    if row is None:
        raise NotFound("customer not found")
    return row


async def customer_detail(session: AsyncSession, ctx: StoreCtx, buyer_store_id: uuid.UUID) -> CustomerDetail:
    """One customer's figures and its latest orders with this vendor."""
    row = await _customer(session, ctx, buyer_store_id)
    orders = await repository.recent_orders(session, ctx.store_id, buyer_store_id, RECENT_ORDERS)
    hidden = row.hidden_at is not None and row.last_order_at <= row.hidden_at
    return CustomerDetail(
        buyer=party(row.Store),
        **_figures(row),
        hidden=hidden,
        recent_orders=[CustomerOrder.model_validate(order, from_attributes=True) for order in orders],
    )


async def hide_customer(session: AsyncSession, ctx: StoreCtx, buyer_store_id: uuid.UUID) -> None:
    """Hide a customer from the list until its next order."""
    await _customer(session, ctx, buyer_store_id)
    await repository.hide(session, ctx.store_id, buyer_store_id, ctx.user_id)
