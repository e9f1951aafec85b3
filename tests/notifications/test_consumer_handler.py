"""The notifications handler against real Postgres, including the order events.

The orders domain is not built yet, so these tests create a session-local TEMP `vendor_orders`
table with the columns the handler reads; Postgres resolves temp tables first, so the test keeps
working unchanged once the real table exists.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.events.consumer import Event
from packfinderz.events.registry import EventPayload, OrderCreated, OrderExpired, PaymentFailed
from packfinderz.kit.db import Database
from packfinderz.notifications import repository
from packfinderz.notifications.consumers import notify
from tests.fixtures.events import insert_store


async def orders_table(
    session: AsyncSession, *orders: tuple[uuid.UUID, int, uuid.UUID, uuid.UUID, str]
) -> None:
    await session.execute(
        text(
            "CREATE TEMP TABLE vendor_orders (id uuid PRIMARY KEY, order_number bigint NOT NULL, "
            "buyer_store_id uuid NOT NULL, vendor_store_id uuid NOT NULL, status text NOT NULL) "
            "ON COMMIT DROP"
        )
    )
    for order_id, number, buyer, vendor, status in orders:
        await session.execute(
            text("INSERT INTO vendor_orders VALUES (:id, :n, :b, :v, :s)"),
            {"id": order_id, "n": number, "b": buyer, "v": vendor, "s": status},
        )


def event_of(data: EventPayload) -> Event:
    return Event(uuid.uuid4(), data.event_type, datetime.now(UTC), None, None, data)


async def inbox(session: AsyncSession) -> list[dict[str, object]]:
    rows = await session.execute(
        text("SELECT id, store_id, title, message, link FROM notifications ORDER BY title")
    )
    return [dict(r._mapping) for r in rows]


async def test_order_created_notifies_each_vendor_whose_order_was_not_rejected(db: Database) -> None:
    buyer = await insert_store(db, "Buyer Shop LLC", dba="Buyer Shop")
    vendor_a = await insert_store(db, "Vendor A", store_type="vendor")
    vendor_b = await insert_store(db, "Vendor B", store_type="vendor")
    kept, rejected = uuid.uuid4(), uuid.uuid4()
    event = event_of(OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[kept, rejected]))
    async with db.transaction() as session:
        await orders_table(
            session,
            (kept, 1001, buyer, vendor_a, "created_pending"),
            (rejected, 1002, buyer, vendor_b, "rejected"),
        )
        await notify(session, event)
        await notify(session, event)  # a redelivery after a lost guard inserts nothing
        found = await inbox(session)
    assert found == [
        {
            "id": uuid.uuid5(event.event_id, str(vendor_a)),
            "store_id": vendor_a,
            "title": "New order",
            "message": "New order #1001 from Buyer Shop.",
            "link": f"/vendor/orders/{kept}",
        }
    ]


async def test_order_expired_notifies_both_sides(db: Database) -> None:
    buyer = await insert_store(db, "Buyer")
    vendor = await insert_store(db, "Vendor", store_type="vendor")
    order = uuid.uuid4()
    data = OrderExpired(
        order_id=order,
        checkout_group_id=uuid.uuid4(),
        buyer_store_id=buyer,
        vendor_store_id=vendor,
        expired_at=datetime.now(UTC),
        ttl_days=10,
    )
    async with db.transaction() as session:
        await orders_table(session, (order, 7, buyer, vendor, "expired"))
        await notify(session, event_of(data))
        found = await inbox(session)
    assert {(n["store_id"], n["link"]) for n in found} == {
        (buyer, f"/orders/{order}"),
        (vendor, f"/vendor/orders/{order}"),
    }


async def test_payment_failed_goes_to_admins_only(db: Database) -> None:
    buyer = await insert_store(db, "Buyer")
    vendor = await insert_store(db, "Vendor", store_type="vendor")
    order = uuid.uuid4()
    event = event_of(
        PaymentFailed(order_id=order, payment_intent_id=uuid.uuid4(), failure_reason="short by $5")
    )
    async with db.transaction() as session:
        await orders_table(session, (order, 55, buyer, vendor, "delivered"))
        await notify(session, event)
        assert await inbox(session) == []
        admin = (
            await session.execute(text("SELECT id, title, message, link FROM admin_notifications"))
        ).one()
    assert admin.id == uuid.uuid5(event.event_id, "admins")
    assert admin.title == "Cash collection mismatch"
    assert admin.message == "Cash collected for order #55 does not match: short by $5"
    assert admin.link == f"/admin/orders/{order}"


async def test_lookups_of_tables_that_do_not_exist_find_nothing(db: Database) -> None:
    async with db.transaction() as session:
        # With an empty search path neither licenses nor vendor_orders resolve, as before their domains exist.
        await session.execute(text("SET LOCAL search_path = pg_catalog"))
        assert await repository.order_facts(session, {uuid.uuid4()}) == {}
        assert await repository.license_facts(session, {uuid.uuid4()}) == {}


async def test_a_notice_for_a_deleted_store_is_skipped(db: Database) -> None:
    buyer = await insert_store(db, "Buyer")
    gone = uuid.uuid4()
    order = uuid.uuid4()
    event = event_of(OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[order]))
    async with db.transaction() as session:
        await orders_table(session, (order, 9, buyer, gone, "created_pending"))
        await notify(session, event)
        assert await inbox(session) == []
