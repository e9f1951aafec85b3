"""POST /api/v1/checkout + confirmation (commerce.md §7): rows, stock, events, partial success, refusals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from packfinderz.ads.tokens import mint
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.apps import serve
from tests.fixtures.catalog import create_product, vendor_at
from tests.fixtures.checkout import (
    SHIPPING,
    Market,
    add_license,
    checkout,
    checkout_body,
    line,
    market,
    post_checkout,
    quote,
    split_line,
    staff_member,
    table_counts,
)
from tests.fixtures.db import execute, rows, scalar, stock
from tests.fixtures.factories import idem, set_store_kyc, set_subscription_active


async def _example(
    client: httpx.AsyncClient, db: Database
) -> tuple[Market, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The worked example of commerce.md §6.5: A sells P1 (tiers) and P2, B sells P3 (tier)."""
    m = await market(client, db)
    p1 = await create_product(
        client,
        m.vendor_a,
        price_cents=1000,
        volume_discounts=[{"min_qty": 10, "discount_percent": 10}, {"min_qty": 25, "discount_percent": 15}],
        inventory={"available_qty": 100},
    )
    p2 = await create_product(client, m.vendor_a, price_cents=2500, inventory={"available_qty": 100})
    p3 = await create_product(
        client,
        m.vendor_b,
        price_cents=5,
        volume_discounts=[{"min_qty": 3, "discount_percent": 10}],
        inventory={"available_qty": 100},
    )
    return m, p1, p2, p3


async def _example_cart(client: httpx.AsyncClient, m: Market, *products: dict[str, Any]) -> dict[str, Any]:
    p1, p2, p3 = products
    return await quote(
        client,
        m.buyer,
        line(p1, 12),
        line(p2, 2),
        line(p3, 5),
        vendor_promos=[{"vendor_store_id": str(m.vendor_a.store_id), "code": "SPRING"}],
    )


def _orders_by_vendor(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["vendor_store_id"]: o for o in result["vendor_orders"]}


async def test_checkout_creates_orders_lines_intents_and_events(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    billing = {**SHIPPING, "line1": "9 Office Rd"}
    shipping_line = {"code": "std", "title": "Standard", "price_cents": 500}
    response = await post_checkout(
        client,
        m.buyer,
        checkout_body(cart["id"], billing_address=billing, shipping_line=shipping_line, tip_cents=150),
    )
    assert response.status_code == 201, response.text
    result = response.json()["data"]
    group_id = uuid.UUID(result["checkout_group_id"])
    assert result["payment_method"] == "cash"
    assert result["shipping_address"]["line1"] == SHIPPING["line1"]
    assert result["billing_address"]["line1"] == "9 Office Rd"
    assert result["shipping_line"] == shipping_line
    assert result["tip_cents"] == 150
    assert result["rejected_vendors"] == []
    assert [o["vendor_store_id"] for o in result["vendor_orders"]] == sorted(
        [str(m.vendor_a.store_id), str(m.vendor_b.store_id)]
    )
    orders = _orders_by_vendor(result)
    order_a, order_b = orders[str(m.vendor_a.store_id)], orders[str(m.vendor_b.store_id)]
    assert (
        order_a["status"],
        order_a["subtotal_cents"],
        order_a["discounts_cents"],
        order_a["total_cents"],
    ) == (
        "created_pending",
        17_000,
        1_200,
        15_800,
    )
    assert order_a["balance_due_cents"] == 15_800
    assert (order_a["tax_cents"], order_a["transport_fee_cents"]) == (0, 0)
    assert (order_b["subtotal_cents"], order_b["discounts_cents"], order_b["total_cents"]) == (25, 3, 22)
    assert [(i["product_id"], i["qty"], i["total_cents"], i["status"]) for i in order_a["items"]] == [
        (p1["id"], 12, 10_800, "pending"),
        (p2["id"], 2, 5_000, "pending"),
    ]
    assert order_a["items"][0]["discount_cents"] == 1200
    assert order_a["items"][0]["product_name"] == p1["title"]

    # Stock moved from available to reserved, exactly the quantities ordered.
    assert await stock(db, p1["id"]) == (88, 12)
    assert await stock(db, p2["id"]) == (98, 2)
    assert await stock(db, p3["id"]) == (95, 5)

    stored = await rows(
        db, "SELECT * FROM vendor_orders WHERE checkout_group_id = :g ORDER BY order_number", g=group_id
    )
    assert len(stored) == 2
    for row in stored:
        assert row["cart_id"] == uuid.UUID(cart["id"])
        assert row["buyer_store_id"] == m.buyer.store_id
        assert (row["refund_status"], row["fulfillment_status"], row["shipping_status"]) == (
            "none",
            "pending",
            "pending",
        )
        assert row["payment_method"] == "cash"
        assert row["shipping_line"] == shipping_line
        assert row["shipping_address"]["line1"] == SHIPPING["line1"]
    stored_a = next(r for r in stored if r["vendor_store_id"] == m.vendor_a.store_id)
    assert stored_a["warnings"] == [{"type": "invalid_promo", "message": "promo code SPRING is not valid"}]
    intents = await rows(
        db,
        "SELECT i.* FROM payment_intents i JOIN vendor_orders o ON o.id = i.order_id "
        "WHERE o.checkout_group_id = :g",
        g=group_id,
    )
    assert sorted((i["method"], i["status"], i["amount_cents"]) for i in intents) == [
        ("cash", "unpaid", 22),
        ("cash", "unpaid", 15_800),
    ]
    lines = await rows(
        db,
        "SELECT l.* FROM order_line_items l JOIN vendor_orders o ON o.id = l.order_id "
        "WHERE o.checkout_group_id = :g ORDER BY l.total_cents",
        g=group_id,
    )
    assert [(x["qty"], x["line_subtotal_cents"], x["discount_cents"], x["total_cents"]) for x in lines] == [
        (5, 25, 3, 22),
        (2, 5_000, 0, 5_000),
        (12, 12_000, 1_200, 10_800),
    ]
    assert all(x["status"] == "pending" and x["notes"] is None for x in lines)
    assert {x["sku"] for x in lines} == {p1["sku"], p2["sku"], p3["sku"]}
    assert lines[2]["applied_volume_discount"] == {
        "label": "volume tier 10+",
        "percent": 10.0,
        "amount_cents": 1200,
    }
    assert lines[2]["category"] == "flower"
    assert all(x["cart_item_id"] is not None for x in lines)

    converted = (await rows(db, "SELECT * FROM cart_records WHERE id = :c", c=uuid.UUID(cart["id"])))[0]
    assert converted["status"] == "converted"
    assert converted["checkout_group_id"] == group_id
    assert converted["converted_at"] is not None
    assert converted["billing_address"]["line1"] == "9 Office Rd"
    assert (converted["tip_cents"], converted["payment_method"]) == (150, "cash")

    events = await rows(
        db, "SELECT event_type, dedupe_key, aggregate_id, payload FROM outbox_events ORDER BY event_type"
    )
    assert [(e["event_type"], e["dedupe_key"]) for e in events] == [
        ("checkout_converted", f"checkout_converted:{group_id}"),
        ("order_created", f"order_created:{group_id}"),
    ]
    order_ids = sorted(o["order_id"] for o in result["vendor_orders"])
    created = events[1]["payload"]
    assert created["actor"]["user_id"] == str(m.buyer.user_id)
    assert created["data"]["checkout_group_id"] == str(group_id)
    assert sorted(created["data"]["vendor_order_ids"]) == order_ids
    assert events[0]["aggregate_id"] == group_id
    data = events[0]["payload"]["data"]
    assert data["cart_id"] == cart["id"]
    assert data["buyer_store_id"] == str(m.buyer.store_id)
    assert sorted(data["vendor_store_ids"]) == sorted([str(m.vendor_a.store_id), str(m.vendor_b.store_id)])
    analytics = data["analytics"]
    assert (analytics["subtotal_cents"], analytics["discounts_cents"], analytics["total_cents"]) == (
        17_025,
        1_203,
        15_822,
    )
    assert analytics["shipping_address"] == {
        "postal_code": "73102",
        "lat": SHIPPING["lat"],
        "lng": SHIPPING["lng"],
    }
    assert len(analytics["items"]) == 3
    assert {o["payment_intent_status"] for o in analytics["vendor_orders"]} == {"unpaid"}

    # The buyer's confirmation shows the same orders with their current states.
    confirmation = await client.get(f"/api/v1/checkout/{group_id}/confirmation", headers=m.buyer.headers)
    assert confirmation.status_code == 200
    body = confirmation.json()["data"]
    assert body["checkout_group_id"] == str(group_id)
    assert body["cart_id"] == cart["id"]
    assert sorted(o["order_id"] for o in body["vendor_orders"]) == order_ids
    conf_a = next(o for o in body["vendor_orders"] if o["vendor_store_id"] == str(m.vendor_a.store_id))
    assert (conf_a["payment_status"], conf_a["fulfillment_status"], conf_a["shipping_status"]) == (
        "unpaid",
        "pending",
        "pending",
    )
    assert conf_a["payment_intent"]["amount_cents"] == 15_800
    assert conf_a["warnings"] == [{"type": "invalid_promo", "message": "promo code SPRING is not valid"}]
    assert conf_a["items"][0]["category"] == "flower"
    assert conf_a["active_assignment"] is None
    by_cart = await client.get(f"/api/v1/checkout/{cart['id']}/confirmation", headers=m.buyer.headers)
    assert by_cart.status_code == 200
    assert by_cart.json() == confirmation.json()


async def test_worked_example_when_stock_drops_before_checkout(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(
        db, "UPDATE inventory_items SET available_qty = 1 WHERE product_id = :p", p=uuid.UUID(p2["id"])
    )
    result = await checkout(client, m.buyer, cart["id"])
    assert result["rejected_vendors"] == []
    orders = _orders_by_vendor(result)
    order_a = orders[str(m.vendor_a.store_id)]
    assert (
        order_a["status"],
        order_a["subtotal_cents"],
        order_a["discounts_cents"],
        order_a["total_cents"],
    ) == (
        "created_pending",
        12_000,
        1_200,
        10_800,
    )
    p2_line = next(i for i in order_a["items"] if i["product_id"] == p2["id"])
    assert (p2_line["status"], p2_line["notes"]) == ("rejected", "insufficient_inventory")
    assert orders[str(m.vendor_b.store_id)]["total_cents"] == 22
    assert await stock(db, p2["id"]) == (1, 0)  # a rejected line reserves nothing
    assert await stock(db, p1["id"]) == (88, 12)
    amount = await scalar(
        db, "SELECT amount_cents FROM payment_intents WHERE order_id = :o", o=uuid.UUID(order_a["order_id"])
    )
    assert amount == 10_800
    # checkout_converted, written before the reservation, was amended to the final outcome.
    converted = (
        await rows(db, "SELECT id, payload FROM outbox_events WHERE event_type = 'checkout_converted'")
    )[0]
    assert converted["payload"]["event_id"] == str(converted["id"])
    analytics = converted["payload"]["data"]["analytics"]
    assert analytics["total_cents"] == 10_800 + 22
    assert {i["product_id"]: i["status"] for i in analytics["items"]} == {
        p1["id"]: "pending",
        p2["id"]: "rejected",
        p3["id"]: "pending",
    }


async def test_reservation_crossing_the_threshold_notifies_the_vendor_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    """A checkout that takes sellable stock to or below the threshold leaves one notice for the vendor;
    a later checkout while still low, or one that stays above, leaves none."""
    m = await market(client, db)
    low = await create_product(client, m.vendor_a, inventory={"available_qty": 20, "low_stock_threshold": 10})
    plenty = await create_product(
        client, m.vendor_a, inventory={"available_qty": 500, "low_stock_threshold": 5}
    )

    async def buy(qty: int) -> None:
        cart = await quote(client, m.buyer, line(low, qty), line(plenty, 1))
        await checkout(client, m.buyer, cart["id"])

    notices = "SELECT store_id, type, title, link FROM notifications ORDER BY created_at"
    await buy(9)  # 20 -> 11: above the threshold
    assert await rows(db, notices) == []
    await buy(1)  # 11 -> 10: at the threshold
    assert await rows(db, notices) == [
        {
            "store_id": m.vendor_a.store_id,
            "type": "order_alert",
            "title": f"Low stock: {low['title']}",
            "link": f"/vendor/products/{low['id']}",
        }
    ]
    await buy(4)  # 10 -> 6: still low, no second notice
    assert len(await rows(db, notices)) == 1
    assert await stock(db, low["id"]) == (6, 14)


async def test_vendor_with_nothing_reservable_gets_a_rejected_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(
        db, "UPDATE inventory_items SET available_qty = 4 WHERE product_id = :p", p=uuid.UUID(p3["id"])
    )
    result = await checkout(client, m.buyer, cart["id"])
    orders = _orders_by_vendor(result)
    order_b = orders[str(m.vendor_b.store_id)]
    assert (order_b["status"], order_b["balance_due_cents"], order_b["total_cents"]) == ("rejected", 0, 0)
    assert [(i["status"], i["notes"]) for i in order_b["items"]] == [("rejected", "insufficient_inventory")]
    assert result["rejected_vendors"] == [
        {
            "vendor_store_id": str(m.vendor_b.store_id),
            "reason": "insufficient_inventory",
            "order_id": order_b["order_id"],
            "line_items": [
                {
                    "product_id": p3["id"],
                    "product_name": p3["title"],
                    "qty": 5,
                    "reason": "insufficient_inventory",
                }
            ],
            "warnings": None,
        }
    ]
    assert orders[str(m.vendor_a.store_id)]["status"] == "created_pending"
    assert (
        await scalar(
            db, "SELECT count(*) FROM payment_intents WHERE order_id = :o", o=uuid.UUID(order_b["order_id"])
        )
        == 0
    )
    assert await stock(db, p3["id"]) == (4, 0)
    created = await scalar(db, "SELECT payload FROM outbox_events WHERE event_type = 'order_created'")
    assert order_b["order_id"] in created["data"]["vendor_order_ids"]


async def test_nothing_reservable_is_409_and_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(db, "UPDATE inventory_items SET available_qty = 1")
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["message"] == "nothing in this cart could be reserved"
    rejected = error["details"]["rejected_vendors"]
    assert sorted(r["vendor_store_id"] for r in rejected) == sorted(
        [str(m.vendor_a.store_id), str(m.vendor_b.store_id)]
    )
    assert all(r["reason"] == "insufficient_inventory" and r["order_id"] is None for r in rejected)
    # Hot-SKU admission: each product with the quantity asked and the stock left (sorted by id).
    assert error["details"]["out_of_stock"] == sorted(
        [
            {"product_id": p1["id"], "product_name": p1["title"], "requested_qty": 12, "remaining_qty": 1},
            {"product_id": p2["id"], "product_name": p2["title"], "requested_qty": 2, "remaining_qty": 1},
            {"product_id": p3["id"], "product_name": p3["title"], "requested_qty": 5, "remaining_qty": 1},
        ],
        key=lambda entry: entry["product_id"],
    )
    assert await table_counts(db) == before
    assert (
        await scalar(db, "SELECT status FROM cart_records WHERE id = :c", c=uuid.UUID(cart["id"])) == "active"
    )
    assert [await stock(db, p["id"]) for p in (p1, p2, p3)] == [(1, 0), (1, 0), (1, 0)]


async def test_stock_taken_while_waiting_for_the_row_lock_is_409_with_what_is_left(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Admission reads committed stock: a reservation still in flight does not count, so this checkout
    is admitted, waits for the row lock, and is refused on the newest row version, with that stock."""
    m = await market(client, db)
    hot = await create_product(client, m.vendor_a, inventory={"available_qty": 5})
    cart = await quote(client, m.buyer, line(hot, 4))
    before = await table_counts(db)
    async with db.transaction() as session:  # another checkout holding the row, about to take 3 units
        await session.execute(
            text("UPDATE inventory_items SET available_qty = 2, reserved_qty = 3 WHERE product_id = :p"),
            {"p": uuid.UUID(hot["id"])},
        )
        pending = asyncio.create_task(post_checkout(client, m.buyer, checkout_body(cart["id"])))
        for _ in range(200):  # until the checkout waits on the inventory row lock
            waiting = await scalar(
                db,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active'"
                " AND datname = current_database()",
            )
            if waiting or pending.done():
                break
            await asyncio.sleep(0.02)
        assert waiting == 1
    response = await pending
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["message"] == "nothing in this cart could be reserved"
    assert error["details"]["out_of_stock"] == [
        {"product_id": hot["id"], "product_name": hot["title"], "requested_qty": 4, "remaining_qty": 2}
    ]
    # The orders written before the reservation rolled back; only the other holder's units are reserved.
    assert await table_counts(db) == {**before, "reserved": 3}
    assert await stock(db, hot["id"]) == (2, 3)


async def test_a_price_changed_since_the_quote_shows_in_the_next_quote_and_its_checkout(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Checkout charges the quote's price (commerce.md §7); the next quote re-prices from the product,
    and its checkout charges that new price: nothing on the way serves the old one."""
    m = await market(client, db)
    product = await create_product(client, m.vendor_a, price_cents=1000, inventory={"available_qty": 50})
    first = await quote(client, m.buyer, line(product, 2))
    await execute(db, "UPDATE products SET price_cents = 1500 WHERE id = :p", p=uuid.UUID(product["id"]))
    [item] = (await checkout(client, m.buyer, first["id"]))["vendor_orders"][0]["items"]
    assert (item["unit_price_cents"], item["total_cents"]) == (1000, 2000)
    await execute(db, "UPDATE products SET price_cents = 1700 WHERE id = :p", p=uuid.UUID(product["id"]))
    second = await quote(client, m.buyer, line(product, 2))
    assert (second["items"][0]["unit_price_cents"], second["total_cents"]) == (1700, 3400)
    [item] = (await checkout(client, m.buyer, second["id"]))["vendor_orders"][0]["items"]
    assert (item["unit_price_cents"], item["total_cents"]) == (1700, 3400)


async def test_vendor_hidden_since_the_quote_is_rejected_alone(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    assert m.vendor_b.store_id is not None
    await set_subscription_active(db, m.vendor_b.store_id, False)
    result = await checkout(client, m.buyer, cart["id"])
    assert [o["vendor_store_id"] for o in result["vendor_orders"]] == [str(m.vendor_a.store_id)]
    [rejected] = result["rejected_vendors"]
    assert rejected == {
        "vendor_store_id": str(m.vendor_b.store_id),
        "reason": "vendor_unavailable",
        "order_id": None,
        "line_items": [
            {"product_id": p3["id"], "product_name": p3["title"], "qty": 5, "reason": "vendor_unavailable"}
        ],
        "warnings": None,
    }
    assert await stock(db, p3["id"]) == (100, 0)
    assert (
        await scalar(
            db, "SELECT count(*) FROM vendor_orders WHERE vendor_store_id = :v", v=m.vendor_b.store_id
        )
        == 0
    )


async def test_vendor_whose_license_lapsed_is_unavailable(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    # KYC still says verified (the daily job has not run yet), but its only verified license expired.
    await add_license(db, m.vendor_b, status="verified", expires_in=timedelta(minutes=-1))
    result = await checkout(client, m.buyer, cart["id"])
    assert [(r["vendor_store_id"], r["reason"]) for r in result["rejected_vendors"]] == [
        (str(m.vendor_b.store_id), "vendor_unavailable")
    ]


async def test_all_vendors_hidden_is_409(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    for vendor in (m.vendor_a, m.vendor_b):
        assert vendor.store_id is not None
        await set_store_kyc(db, vendor.store_id, "suspended")
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "no vendor in this cart is available"
    assert {r["reason"] for r in response.json()["error"]["details"]["rejected_vendors"]} == {
        "vendor_unavailable"
    }
    assert await table_counts(db) == before


async def test_product_deactivated_since_the_quote_is_rejected(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(db, "UPDATE products SET is_active = false WHERE id = :p", p=uuid.UUID(p2["id"]))
    result = await checkout(client, m.buyer, cart["id"])
    order_a = _orders_by_vendor(result)[str(m.vendor_a.store_id)]
    p2_line = next(i for i in order_a["items"] if i["product_id"] == p2["id"])
    assert (p2_line["status"], p2_line["notes"]) == ("rejected", "not_available")
    assert order_a["total_cents"] == 10_800
    assert await stock(db, p2["id"]) == (100, 0)


@pytest.mark.parametrize(("rule", "limit"), [("moq", 20), ("max_qty", 10)])
async def test_current_quantity_rules_breached_is_422(
    client: httpx.AsyncClient, db: Database, rule: str, limit: int
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(db, f"UPDATE products SET {rule} = :v WHERE id = :p", v=limit, p=uuid.UUID(p1["id"]))
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "STATE_CONFLICT"
    assert error["details"]["violations"] == [
        {
            "product_id": p1["id"],
            "product_name": p1["title"],
            "rule": rule,
            "limit_qty": limit,
            "requested_qty": 12,
        }
    ]
    assert await table_counts(db) == before
    assert await scalar(db, "SELECT status FROM cart_records") == "active"


async def test_expired_quote_is_409(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await execute(db, "UPDATE cart_records SET valid_until = now() - interval '1 second'")
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "cart quote expired; quote the cart again"
    assert await table_counts(db) == before
    # Quoting again makes it valid.
    again = await _example_cart(client, m, p1, p2, p3)
    assert again["id"] == cart["id"]
    await checkout(client, m.buyer, cart["id"])


async def test_cart_without_ok_items_is_409(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a, inventory={"available_qty": 0})
    cart = await quote(client, m.buyer, line(product, 1))
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 409
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 0


async def test_converted_cart_replays_the_same_result(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    hidden = await vendor_at(client, db)
    p4 = await create_product(client, hidden)
    cart = await quote(client, m.buyer, line(p1, 12), line(p2, 2), line(p3, 5), line(p4, 1))
    await execute(
        db, "UPDATE inventory_items SET available_qty = 4 WHERE product_id = :p", p=uuid.UUID(p3["id"])
    )
    assert hidden.store_id is not None
    await set_store_kyc(db, hidden.store_id, "suspended")
    first = await post_checkout(client, m.buyer, checkout_body(cart["id"], tip_cents=7))
    assert first.status_code == 201
    assert {r["reason"] for r in first.json()["data"]["rejected_vendors"]} == {
        "insufficient_inventory",
        "vendor_unavailable",
    }
    before = await table_counts(db)
    stock_before = [await stock(db, p["id"]) for p in (p1, p2, p3)]
    # Another key, even another body: the converted cart answers with its result, 200, no writes.
    again = await post_checkout(
        client, m.buyer, checkout_body(cart["id"], payment_method="cash", tip_cents=1)
    )
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") is None
    assert again.json() == first.json()
    assert await table_counts(db) == before
    assert [await stock(db, p["id"]) for p in (p1, p2, p3)] == stock_before


async def test_duplicate_product_lines_are_merged_before_reservation(
    client: httpx.AsyncClient, db: Database
) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a, price_cents=100, inventory={"available_qty": 5})
    cart = await quote(client, m.buyer, line(product, 4))
    # A cart holding the product on two lines (2 + 2): the outcome is shared by both lines.
    await split_line(db, uuid.UUID(cart["items"][0]["id"]), 2, 2)
    result = await checkout(client, m.buyer, cart["id"])
    [order] = result["vendor_orders"]
    assert [(i["qty"], i["status"]) for i in order["items"]] == [(2, "pending"), (2, "pending")]
    assert await stock(db, product["id"]) == (1, 4)

    other = await quote(client, m.buyer, line(product, 1))
    await split_line(db, uuid.UUID(other["items"][0]["id"]), 1, 1)
    # 1 + 1 merged is 2 > 1 available: both lines fail together, nothing is half-reserved.
    response = await post_checkout(client, m.buyer, checkout_body(other["id"]))
    assert response.status_code == 409
    assert await stock(db, product["id"]) == (1, 4)


async def test_checkout_key_replays_and_refuses_reuse(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    body = checkout_body(cart["id"])
    first = await post_checkout(client, m.buyer, body, key="checkout-key-1")
    assert first.status_code == 201
    replay = await post_checkout(client, m.buyer, body, key="checkout-key-1")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    reused = await post_checkout(client, m.buyer, {**body, "tip_cents": 5}, key="checkout-key-1")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 2


async def test_ad_tokens_attribute_orders_and_lines(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    m, p1, _, p3 = await _example(client, db)
    now = datetime.now(UTC)

    def token(target_type: str, target_id: Any, event_type: str, minutes_ago: int) -> str:
        return mint(
            settings.effective_ads_token_secret,
            {
                "token_id": uuid.uuid4(),
                "ad_id": uuid.uuid4(),
                "creative_id": uuid.uuid4(),
                "placement": "product" if target_type == "product" else "store",
                "target_type": target_type,
                "target_id": target_id,
                "buyer_store_id": m.buyer.store_id,
                "event_type": event_type,
                "occurred_at": now - timedelta(minutes=minutes_ago),
                "expires_at": now + timedelta(days=30),
                "request_id": str(uuid.uuid4()),
                "bid_cents": 10,
                "destination_url": "https://example.com/x",
            },
        )

    store_view = token("store", m.vendor_a.store_id, "impression", 1)
    store_click = token("store", m.vendor_a.store_id, "click", 30)
    product_view_old = token("product", p1["id"], "impression", 20)
    product_view_new = token("product", p1["id"], "impression", 2)
    cart = await quote(
        client,
        m.buyer,
        line(p1, 1),
        line(p3, 5),
        ad_tokens=[store_view, store_click, product_view_old, product_view_new],
    )
    result = await checkout(client, m.buyer, cart["id"])
    orders = await rows(db, "SELECT vendor_store_id, ad_token FROM vendor_orders")
    assert {(r["vendor_store_id"], r["ad_token"]) for r in orders} == {
        (m.vendor_a.store_id, store_click),  # a click beats a newer impression
        (m.vendor_b.store_id, None),
    }
    lines = await rows(db, "SELECT product_id, ad_token FROM order_line_items")
    assert {(str(r["product_id"]), r["ad_token"]) for r in lines} == {
        (p1["id"], product_view_new),
        (p3["id"], None),
    }
    assert result["vendor_orders"]


async def test_checkout_statement_budget(client: httpx.AsyncClient, db: Database, app: FastAPI) -> None:
    """A 2-vendor, 3-line checkout stays within 25 SQL statements, authentication included."""
    m, p1, p2, p3 = await _example(client, db)
    cart = await quote(client, m.buyer, line(p1, 12), line(p2, 2), line(p3, 5))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await checkout(client, m.buyer, cart["id"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 25, "\n".join(s[:100] for s in statements)


# --- payment method -----------------------------------------------------------------------------------


async def test_ach_is_refused_while_disabled(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"], payment_method="ach"))
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"payment_method": "ach is not enabled"}
    assert await table_counts(db) == before


async def test_ach_when_enabled_creates_pending_intents(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    async with serve(settings.model_copy(update={"feature_allow_ach": True})) as ach_client:
        result = await checkout(ach_client, m.buyer, cart["id"], payment_method="ach")
    assert result["payment_method"] == "ach"
    intents = await rows(db, "SELECT method, status FROM payment_intents")
    assert {(i["method"], i["status"]) for i in intents} == {("ach", "pending")}


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shipping_address": None}, "shipping_address"),
        ({"shipping_address": {**SHIPPING, "city": " "}}, "shipping_address.city"),
        ({"shipping_address": {**SHIPPING, "lat": "north"}}, "shipping_address.lat"),
        (
            {"shipping_address": {k: v for k, v in SHIPPING.items() if k != "postal_code"}},
            "shipping_address.postal_code",
        ),
        ({"shipping_address": {**SHIPPING, "planet": "earth"}}, "shipping_address.planet"),
        ({"billing_address": {**SHIPPING, "state": "Oklahoma"}}, "billing_address.state"),
        # two uppercase letters, as the schema says (issue #18): no silent normalization
        ({"shipping_address": {**SHIPPING, "state": "ok"}}, "shipping_address.state"),
        ({"shipping_address": {**SHIPPING, "state": " OK"}}, "shipping_address.state"),
        ({"shipping_address": {**SHIPPING, "country": "us"}}, "shipping_address.country"),
        ({"payment_method": "card"}, "payment_method"),
        ({"payment_method": None}, "payment_method"),
        ({"cart_id": "not-a-uuid"}, "cart_id"),
        ({"tip_cents": -1}, "tip_cents"),
        ({"shipping_line": {"code": "x", "title": "X", "price_cents": -5}}, "shipping_line.price_cents"),
        ({"gift": True}, "gift"),
    ],
)
async def test_bad_body_is_400_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, Any], field: str
) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    body = {k: v for k, v in {**checkout_body(cart["id"]), **change}.items() if v is not None}
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["details"]
    assert await table_counts(db) == before


async def test_foreign_cart_is_404(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    other = await market(client, db)
    before = await table_counts(db)
    for cart_id in (cart["id"], str(uuid.uuid4())):
        response = await post_checkout(client, other.buyer, checkout_body(cart_id))
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "cart not found"
    assert await table_counts(db) == before


async def test_unverified_buyer_is_403(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    assert m.buyer.store_id is not None
    await set_store_kyc(db, m.buyer.store_id, "suspended")
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "buyer verification required"
    assert await table_counts(db) == before


async def test_buyer_whose_licenses_lapsed_is_403(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    await add_license(db, m.buyer, status="verified", expires_in=timedelta(seconds=-1))
    await add_license(db, m.buyer, status="rejected", expires_in=None)
    before = await table_counts(db)
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "buyer verification required"
    assert await table_counts(db) == before
    # One license still current is enough.
    await add_license(db, m.buyer, status="verified", expires_in=timedelta(days=30))
    await checkout(client, m.buyer, cart["id"])


async def test_vendor_store_cannot_check_out(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    before = await table_counts(db)
    response = await post_checkout(client, m.vendor_a, checkout_body(cart["id"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "buyer access required"
    assert await table_counts(db) == before


async def test_staff_cannot_check_out(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    staff = await staff_member(client, m.buyer)
    response = await post_checkout(client, staff, checkout_body(cart["id"]))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "insufficient store role"
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 0


async def test_missing_idempotency_key_is_400(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    response = await client.post("/api/v1/checkout", json=checkout_body(cart["id"]), headers=m.buyer.headers)
    assert response.status_code == 400
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 0


async def test_unauthenticated_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/checkout", json=checkout_body(uuid.uuid4()), headers=idem())
    assert response.status_code == 401


# --- confirmation -------------------------------------------------------------------------------------


async def test_confirmation_refusals(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, p2, p3 = await _example(client, db)
    cart = await _example_cart(client, m, p1, p2, p3)
    result = await checkout(client, m.buyer, cart["id"])
    path = f"/api/v1/checkout/{result['checkout_group_id']}/confirmation"
    assert (
        await client.get("/api/v1/checkout/not-a-uuid/confirmation", headers=m.buyer.headers)
    ).status_code == 400
    unknown = await client.get(f"/api/v1/checkout/{uuid.uuid4()}/confirmation", headers=m.buyer.headers)
    assert unknown.status_code == 404
    other = await market(client, db)
    foreign = await client.get(path, headers=other.buyer.headers)
    assert foreign.status_code == 404  # issue #17: another buyer's checkout does not exist for it (was 403)
    assert result["checkout_group_id"] not in foreign.text
    as_vendor = await client.get(path, headers=m.vendor_a.headers)
    assert as_vendor.status_code == 403
    # Staff may read confirmations; an active but unquoted cart has none.
    staff = await staff_member(client, m.buyer)
    assert (await client.get(path, headers=staff.headers)).status_code == 200
    fresh = await quote(client, m.buyer, line(p1, 1))
    pending = await client.get(f"/api/v1/checkout/{fresh['id']}/confirmation", headers=m.buyer.headers)
    assert pending.status_code == 404
