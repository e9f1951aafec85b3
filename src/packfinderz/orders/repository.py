"""Order SQL: locked reads, guarded line transitions, stock release and consumption, lists and cards.

Lock order on every path (commerce.md §12): vendor_orders → order_line_items → inventory_items (ascending
product id) → payment_intents → order_assignments.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from packfinderz.kit.db import like_pattern
from packfinderz.kit.pagination import PageParams, after_cursor_desc
from packfinderz.models.catalog import Product
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import Store, User
from packfinderz.models.licenses import License
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.models.outbox import OutboxEvent


async def get_order(session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False) -> VendorOrder | None:
    """An order by id, re-read from the database (FOR UPDATE with `lock`)."""
    query = select(VendorOrder).where(VendorOrder.id == order_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def lines_of(session: AsyncSession, order_id: uuid.UUID) -> list[OrderLineItem]:
    """The order's lines in position order, re-read from the database."""
    rows = await session.scalars(
        select(OrderLineItem)
        .where(OrderLineItem.order_id == order_id)
        .order_by(OrderLineItem.position, OrderLineItem.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def get_line(session: AsyncSession, line_id: uuid.UUID) -> OrderLineItem | None:
    return (
        await session.scalars(
            select(OrderLineItem).where(OrderLineItem.id == line_id).execution_options(populate_existing=True)
        )
    ).one_or_none()


async def intent_of(
    session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False
) -> PaymentIntent | None:
    """The order's payment intent (FOR UPDATE with `lock`)."""
    query = (
        select(PaymentIntent)
        .where(PaymentIntent.order_id == order_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def flush(session: AsyncSession) -> None:
    """Write pending ORM changes (the caller's transaction commits them)."""
    await session.flush()


# --- guarded line transitions and stock ---------------------------------------------------------


async def fulfill_line(session: AsyncSession, line_id: uuid.UUID, notes: str | None) -> bool:
    """pending → fulfilled; False when the line was not pending (the status is the guard)."""
    result = await session.execute(
        update(OrderLineItem)
        .where(OrderLineItem.id == line_id, OrderLineItem.status == "pending")
        .values(status="fulfilled", notes=notes, updated_at=func.now())
        .returning(OrderLineItem.id)
    )
    return result.scalar_one_or_none() is not None


async def reject_lines(
    session: AsyncSession,
    order_id: uuid.UUID,
    reason: str | None,
    *,
    line_id: uuid.UUID | None = None,
    pending_only: bool = True,
) -> list[tuple[uuid.UUID | None, int]]:
    """Reject the order's pending (or all non-rejected) lines, or one line; (product_id, qty) of each.

    The `status <> 'rejected'` transition is the only way stock is released, so no retry or race can
    release a line twice; lines rejected at checkout never reserved anything and are not touched.
    """
    query = update(OrderLineItem).where(OrderLineItem.order_id == order_id)
    if line_id is not None:
        query = query.where(OrderLineItem.id == line_id)
    if pending_only:
        query = query.where(OrderLineItem.status == "pending")
    else:
        query = query.where(OrderLineItem.status != "rejected")
    rows = await session.execute(
        query.values(status="rejected", notes=reason, updated_at=func.now()).returning(
            OrderLineItem.product_id, OrderLineItem.qty
        )
    )
    return [(row.product_id, row.qty) for row in rows]


# --- retry ------------------------------------------------------------------------------------------


async def retry_of(session: AsyncSession, order_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the order that retried this one, if any."""
    found: uuid.UUID | None = await session.scalar(
        select(VendorOrder.id).where(VendorOrder.retry_of_order_id == order_id)
    )
    return found


async def active_product_ids(session: AsyncSession, product_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these products still exist and are active."""
    rows = await session.scalars(
        select(Product.id).where(Product.id.in_(list(product_ids)), Product.is_active)
    )
    return set(rows)


async def insert_order(session: AsyncSession, values: dict[str, Any]) -> VendorOrder:
    """Insert an order; its number and timestamps come back."""
    order: VendorOrder = (
        await session.scalars(insert(VendorOrder).values(values).returning(VendorOrder))
    ).one()
    return order


async def insert_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OrderLineItem), rows)


async def insert_intent(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(PaymentIntent).values(values))


# --- parties, licenses, assignments --------------------------------------------------------------


async def stores(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Store]:
    rows = await session.scalars(select(Store).where(Store.id.in_(list(ids))))
    return {store.id: store for store in rows}


async def verified_licenses(session: AsyncSession, store_ids: Collection[uuid.UUID]) -> list[License]:
    """The stores' verified licenses, by store and number."""
    rows = await session.scalars(
        select(License)
        .where(License.store_id.in_(list(store_ids)), License.status == "verified")
        .order_by(License.store_id, License.number)
    )
    return list(rows)


async def active_assignment(
    session: AsyncSession, order_id: uuid.UUID, *, lock: bool = False
) -> tuple[OrderAssignment, User] | None:
    """The order's active assignment and its agent (the assignment row FOR UPDATE with `lock`)."""
    query = (
        select(OrderAssignment, User)
        .join(User, User.id == OrderAssignment.agent_user_id)
        .where(OrderAssignment.order_id == order_id, OrderAssignment.active)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=OrderAssignment)
    row = (await session.execute(query)).one_or_none()
    return (row[0], row[1]) if row else None


async def active_assignments(
    session: AsyncSession, order_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[OrderAssignment, User]]:
    """The active assignment and agent of each of several orders, in one statement."""
    if not order_ids:
        return {}
    rows = await session.execute(
        select(OrderAssignment, User)
        .join(User, User.id == OrderAssignment.agent_user_id)
        .where(OrderAssignment.order_id.in_(list(order_ids)), OrderAssignment.active)
    )
    return {assignment.order_id: (assignment, agent) for assignment, agent in rows}


async def deactivate_assignment(session: AsyncSession, order_id: uuid.UUID) -> uuid.UUID | None:
    """End the order's active assignment; the agent it had, if any."""
    agent: uuid.UUID | None = await session.scalar(
        update(OrderAssignment)
        .where(OrderAssignment.order_id == order_id, OrderAssignment.active)
        .values(active=False, unassigned_at=func.now(), updated_at=func.now())
        .returning(OrderAssignment.agent_user_id)
    )
    return agent


# --- lists ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """Filters of the order lists (commerce.md §8.4); `statuses` is the vendor's actionable set."""

    order_status: str | None = None
    fulfillment_status: str | None = None
    shipping_status: str | None = None
    payment_status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    q: str | None = None
    statuses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Scope:
    """Whose orders a list holds: a buyer's or a vendor's (optionally with one counterparty)."""

    perspective: str  # "buyer" | "vendor"
    store_id: uuid.UUID
    counterparty_id: uuid.UUID | None = None


_TOTAL_ITEMS = (
    select(func.coalesce(func.sum(OrderLineItem.qty), 0))
    .where(OrderLineItem.order_id == VendorOrder.id)
    .correlate(VendorOrder)
    .scalar_subquery()
)
_SUMMARY_COLUMNS = (
    VendorOrder.id,
    VendorOrder.order_number,
    VendorOrder.created_at,
    VendorOrder.status,
    VendorOrder.total_cents,
    VendorOrder.discounts_cents,
    VendorOrder.fulfillment_status,
    VendorOrder.shipping_status,
    PaymentIntent.status.label("payment_status"),
    _TOTAL_ITEMS.label("total_items"),
)


def _store_columns(store: Any, prefix: str) -> list[ColumnElement[Any]]:
    return [
        store.id.label(f"{prefix}_id"),
        store.company_name.label(f"{prefix}_company_name"),
        store.dba_name.label(f"{prefix}_dba_name"),
        store.logo_url.label(f"{prefix}_logo_url"),
    ]


def _filter_conditions(filters: OrderFilters, names: Sequence[Any]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.order_status:
        where.append(VendorOrder.status == filters.order_status)
    if filters.statuses:
        where.append(VendorOrder.status.in_(filters.statuses))
    if filters.fulfillment_status:
        where.append(VendorOrder.fulfillment_status == filters.fulfillment_status)
    if filters.shipping_status:
        where.append(VendorOrder.shipping_status == filters.shipping_status)
    if filters.payment_status:
        where.append(PaymentIntent.status == filters.payment_status)
    if filters.date_from:
        where.append(VendorOrder.created_at >= filters.date_from)
    if filters.date_to:
        where.append(VendorOrder.created_at <= filters.date_to)
    if filters.q:
        pattern = like_pattern(filters.q)
        matches = [cast(VendorOrder.order_number, String).ilike(pattern, escape="\\")]
        matches += [column.ilike(pattern, escape="\\") for column in names]
        where.append(or_(*matches))
    return where


def _store_query(scope: Scope, filters: OrderFilters) -> tuple[Select[Any], Any]:
    counterparty = aliased(Store, name="counterparty")
    own, other = (
        (VendorOrder.buyer_store_id, VendorOrder.vendor_store_id)
        if scope.perspective == "buyer"
        else (VendorOrder.vendor_store_id, VendorOrder.buyer_store_id)
    )
    query = (
        select(*_SUMMARY_COLUMNS, *_store_columns(counterparty, "party"))
        .join(counterparty, counterparty.id == other)
        .outerjoin(PaymentIntent, PaymentIntent.order_id == VendorOrder.id)
        .where(own == scope.store_id)
        .where(*_filter_conditions(filters, (counterparty.company_name, counterparty.dba_name)))
    )
    if scope.counterparty_id is not None:
        query = query.where(other == scope.counterparty_id)
    return query, counterparty


async def store_orders_page(
    session: AsyncSession, scope: Scope, filters: OrderFilters, page: PageParams
) -> list[Any]:
    """One page (+1 row) of a store's orders, newest first, with counterparty and item counts."""
    query, _ = _store_query(scope, filters)
    after = after_cursor_desc(VendorOrder.created_at, VendorOrder.id, page.cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(VendorOrder.created_at.desc(), VendorOrder.id.desc()).limit(page.limit + 1)
    return list((await session.execute(query)).all())


async def store_orders_count(session: AsyncSession, scope: Scope, filters: OrderFilters) -> int:
    """Size of the whole filtered set."""
    query, _ = _store_query(scope, filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(total or 0)


async def storefront_totals(
    session: AsyncSession, buyer_store_id: uuid.UUID, vendor_store_id: uuid.UUID
) -> tuple[int, int, int, int]:
    """(orders, items, Σ total_cents, Σ discounts_cents) over every order between the two stores."""
    orders = (
        select(
            VendorOrder.id,
            VendorOrder.total_cents,
            VendorOrder.discounts_cents,
            _TOTAL_ITEMS.label("item_count"),
        )
        .where(VendorOrder.buyer_store_id == buyer_store_id, VendorOrder.vendor_store_id == vendor_store_id)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.count(orders.c.id),
                func.coalesce(func.sum(orders.c.item_count), 0),
                func.coalesce(func.sum(orders.c.total_cents), 0),
                func.coalesce(func.sum(orders.c.discounts_cents), 0),
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def _agent_query(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    buyer = aliased(Store, name="buyer")
    vendor = aliased(Store, name="vendor")
    address = (
        "address_line1",
        "address_line2",
        "address_city",
        "address_state",
        "address_postal_code",
        "address_country",
        "lat",
        "lng",
    )
    return (
        select(
            *_SUMMARY_COLUMNS,
            *_store_columns(buyer, "buyer"),
            *(getattr(buyer, c).label(f"buyer_{c}") for c in address),
            *_store_columns(vendor, "vendor"),
            *(getattr(vendor, c).label(f"vendor_{c}") for c in address),
        )
        .join(buyer, buyer.id == VendorOrder.buyer_store_id)
        .join(vendor, vendor.id == VendorOrder.vendor_store_id)
        .outerjoin(PaymentIntent, PaymentIntent.order_id == VendorOrder.id)
        .where(*where)
    )


DISPATCHABLE = ("ready_for_dispatch", "hold_for_pickup")


def _unassigned() -> ColumnElement[bool]:
    return ~(
        select(OrderAssignment.id)
        .where(OrderAssignment.order_id == VendorOrder.id, OrderAssignment.active)
        .correlate(VendorOrder)
        .exists()
    )


async def queue_page(session: AsyncSession, page: PageParams) -> list[Any]:
    """Dispatchable orders with no active assignment, newest first (one page + 1 row)."""
    where = [VendorOrder.status.in_(DISPATCHABLE), _unassigned()]
    after = after_cursor_desc(VendorOrder.created_at, VendorOrder.id, page.cursor)
    if after is not None:
        where.append(after)
    query = _agent_query(where).order_by(VendorOrder.created_at.desc(), VendorOrder.id.desc())
    return list((await session.execute(query.limit(page.limit + 1))).all())


async def agent_orders_page(
    session: AsyncSession, agent_user_id: uuid.UUID, status: str | None, page: PageParams
) -> list[Any]:
    """The orders an agent actively holds, newest first (one page + 1 row)."""
    mine = (
        select(OrderAssignment.id)
        .where(
            OrderAssignment.order_id == VendorOrder.id,
            OrderAssignment.active,
            OrderAssignment.agent_user_id == agent_user_id,
        )
        .correlate(VendorOrder)
        .exists()
    )
    where: list[ColumnElement[bool]] = [mine]
    if status:
        where.append(VendorOrder.status == status)
    after = after_cursor_desc(VendorOrder.created_at, VendorOrder.id, page.cursor)
    if after is not None:
        where.append(after)
    query = _agent_query(where).order_by(VendorOrder.created_at.desc(), VendorOrder.id.desc())
    return list((await session.execute(query.limit(page.limit + 1))).all())


async def is_queued(session: AsyncSession, order_id: uuid.UUID) -> bool:
    """Whether the order waits in the dispatch queue (dispatchable, nobody assigned)."""
    found = await session.scalar(
        select(VendorOrder.id).where(
            VendorOrder.id == order_id, VendorOrder.status.in_(DISPATCHABLE), _unassigned()
        )
    )
    return found is not None


# --- TTL ------------------------------------------------------------------------------------------


async def pending_older_than(
    session: AsyncSession, cutoff: datetime, *, unnudged: bool = False
) -> list[uuid.UUID]:
    """Ids of `created_pending` orders created at or before `cutoff`, oldest first.

    `unnudged` leaves out orders whose automatic nudge is already in the outbox (the dedupe key).
    """
    query = select(VendorOrder.id).where(
        VendorOrder.status == "created_pending", VendorOrder.created_at <= cutoff
    )
    if unnudged:
        nudged = (
            select(OutboxEvent.id)
            .where(
                OutboxEvent.dedupe_key == func.concat("order_pending_nudge:", cast(VendorOrder.id, String))
            )
            .correlate(VendorOrder)
            .exists()
        )
        query = query.where(~nudged)
    rows = await session.scalars(query.order_by(VendorOrder.created_at, VendorOrder.id))
    return list(rows)
