"""Vendor decisions (order and lines), buyer cancel, nudge and retry: effects, events, audit, stock."""

from __future__ import annotations

import uuid

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.checkout import SHIPPING, staff_member
from tests.fixtures.db import audits, event_counts, events, execute, rows, stock
from tests.fixtures.factories import set_store_kyc, set_subscription_active
from tests.fixtures.orders import (
    agent_post,
    decide,
    decide_line,
    expire_order,
    intent_row,
    new_agent,
    ok,
    order_row,
    place,
    post,
    ready_order,
    snapshot,
)


async def test_accept_is_recorded_once_and_repeating_it_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db)
    vendor = placed.vendors[0]
    result = await ok(await decide(client, vendor, placed.order_id, "Accept"))
    assert result == {
        "order_id": placed.order_id,
        "status": "accepted",
        "payment_status": "unpaid",
        "fulfillment_status": "pending",
        "shipping_status": "pending",
        "balance_due_cents": placed.order["total_cents"],
    }
    [event] = await events(db, "order_decided")
    assert (event["order_id"], event["decision"], event["status"]) == (placed.order_id, "accept", "accepted")
    assert event["buyer_store_id"] == str(placed.buyer.store_id)
    [entry] = await audits(db, "order.accepted")
    assert entry["actor_user_id"] == vendor.user_id
    assert entry["actor_store_id"] == vendor.store_id
    assert entry["payload"] == {"order_number": placed.order["order_number"], "status": "accepted"}
    before = await snapshot(db, placed.order_id)
    assert (await ok(await decide(client, vendor, placed.order_id, "accept")))["status"] == "accepted"
    assert await snapshot(db, placed.order_id) == before


async def test_rejecting_the_order_releases_every_line_and_zeroes_the_balance(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((3, 2),))
    first, second = placed.products[0]
    result = await ok(await decide(client, placed.vendors[0], placed.order_id, "reject"))
    assert (result["status"], result["balance_due_cents"]) == ("rejected", 0)
    assert await stock(db, first["id"]) == (100, 0)
    assert await stock(db, second["id"]) == (100, 0)
    lines = await rows(
        db, "SELECT status, notes FROM order_line_items WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert lines == [{"status": "rejected", "notes": "order_rejected"}] * 2
    order = await order_row(db, placed.order_id)
    assert (order["subtotal_cents"], order["total_cents"], order["balance_due_cents"]) == (0, 0, 0)
    assert (await intent_row(db, placed.order_id) or {})["amount_cents"] == 0
    [event] = await events(db, "order_decided")
    assert (event["decision"], event["status"]) == ("reject", "rejected")
    assert len(await audits(db, "order.rejected")) == 1


async def test_line_decisions_recompute_totals_and_the_last_one_makes_the_order_ready(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((3, 2, 1),), price_cents=1000)  # lines of 3000, 4000, 3000
    vendor = placed.vendors[0]
    a, b, c = (item["line_item_id"] for item in placed.order["items"])
    product_b = placed.products[0][1]["id"]

    fulfilled = await ok(await decide_line(client, vendor, placed.order_id, a, "FULFILL", notes="packed"))
    assert (fulfilled["status"], fulfilled["balance_due_cents"]) == ("accepted", 10000)
    rejected = await ok(await decide_line(client, vendor, placed.order_id, b, "reject", notes="damaged"))
    assert (rejected["status"], rejected["balance_due_cents"]) == ("partially_accepted", 6000)
    assert await stock(db, product_b) == (100, 0)
    order = await order_row(db, placed.order_id)
    assert (order["subtotal_cents"], order["total_cents"]) == (6000, 6000)
    assert (await intent_row(db, placed.order_id) or {})["amount_cents"] == 6000
    assert await event_counts(db) == {"order_created": 1, "checkout_converted": 1}

    ready = await ok(await decide_line(client, vendor, placed.order_id, c, "fulfill"))
    assert ready == {
        "order_id": placed.order_id,
        "status": "ready_for_dispatch",
        "payment_status": "unpaid",
        "fulfillment_status": "partial",
        "shipping_status": "pending",
        "balance_due_cents": 6000,
    }
    order = await order_row(db, placed.order_id)
    assert order["ready_at"] is not None
    [event] = await events(db, "order_ready_for_dispatch")
    assert event == {
        "order_id": placed.order_id,
        "checkout_group_id": placed.result["checkout_group_id"],
        "buyer_store_id": str(placed.buyer.store_id),
        "vendor_store_id": str(vendor.store_id),
        "vendor_store_ids": [str(vendor.store_id)],
        "fulfillment_status": "partial",
        "shipping_status": "pending",
        "rejected_item_count": 1,
        "resolved_line_item_id": c,
    }
    notes = await rows(
        db,
        "SELECT notes FROM order_line_items WHERE order_id = :id ORDER BY position",
        id=uuid.UUID(placed.order_id),
    )
    assert [n["notes"] for n in notes] == ["packed", "damaged", None]
    [audit] = await audits(db, "order.line_rejected")
    assert audit["payload"] == {
        "line_item_id": b,
        "product_id": product_b,
        "qty": 2,
        "notes": "damaged",
        "order_status": "partially_accepted",
    }
    assert len(await audits(db, "order.line_fulfilled")) == 2

    # Same decision again: 200, nothing changes; the other decision on a decided line: 422.
    before = await snapshot(db, placed.order_id)
    assert (await decide_line(client, vendor, placed.order_id, a, "fulfill")).status_code == 200
    conflict = await decide_line(client, vendor, placed.order_id, b, "fulfill")
    assert conflict.status_code == 422
    assert conflict.json()["error"]["code"] == "STATE_CONFLICT"
    assert await snapshot(db, placed.order_id) == before


async def test_rejecting_every_line_rejects_the_order(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3, 2),))
    vendor = placed.vendors[0]
    for item in placed.order["items"]:
        result = await ok(await decide_line(client, vendor, placed.order_id, item["line_item_id"], "reject"))
    assert (result["status"], result["balance_due_cents"]) == ("rejected", 0)
    [event] = await events(db, "order_decided")
    assert (event["decision"], event["status"]) == ("reject", "rejected")
    assert await events(db, "order_ready_for_dispatch") == []


async def test_decision_errors(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3,), (2,)))
    vendor_a, vendor_b = placed.vendors
    order_a, order_b = placed.order_of(vendor_a), placed.order_of(vendor_b)
    before = await snapshot(db, order_a["order_id"])
    path = f"/api/v1/vendor/orders/{order_a['order_id']}/decision"

    bad = await post(client, path, vendor_a.headers, {"decision": "maybe"})
    assert bad.status_code == 400
    assert "decision" in bad.json()["error"]["details"]
    extra = await post(client, path, vendor_a.headers, {"decision": "accept", "why": "x"})
    assert extra.json()["error"]["details"] == {"why": "is not allowed"}
    malformed = await client.post(
        path,
        content=b"{",
        headers={**vendor_a.headers, "Idempotency-Key": "k1", "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    missing_key = await client.post(path, json={"decision": "accept"}, headers=vendor_a.headers)
    assert missing_key.status_code == 400
    # issue #17: a stranger gets 404 (was 403); the order's buyer may see it but not decide it: 403
    assert (await decide(client, vendor_b, order_a["order_id"], "accept")).status_code == 404
    assert (await decide(client, placed.buyer, order_a["order_id"], "accept")).status_code == 403
    assert (await decide(client, vendor_a, uuid.uuid4(), "accept")).status_code == 404
    bad_id = await post(
        client, "/api/v1/vendor/orders/not-a-uuid/decision", vendor_a.headers, {"decision": "accept"}
    )
    assert bad_id.status_code == 400
    assert (
        await client.post(path, json={"decision": "accept"}, headers={"Idempotency-Key": "k2"})
    ).status_code == 401

    line_path = f"/api/v1/vendor/orders/{order_a['order_id']}/line-items/decision"
    foreign = await post(
        client,
        line_path,
        vendor_a.headers,
        {"line_item_id": order_b["items"][0]["line_item_id"], "decision": "fulfill"},
    )
    assert foreign.status_code == 404  # issue #17: another order's line (maybe another store's), was 403
    unknown = await post(
        client, line_path, vendor_a.headers, {"line_item_id": str(uuid.uuid4()), "decision": "fulfill"}
    )
    assert unknown.status_code == 404
    long_note = await post(
        client,
        line_path,
        vendor_a.headers,
        {"line_item_id": order_a["items"][0]["line_item_id"], "decision": "reject", "notes": "x" * 501},
    )
    assert long_note.status_code == 400
    assert "notes" in long_note.json()["error"]["details"]
    assert await snapshot(db, order_a["order_id"]) == before


async def test_staff_roles(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    vendor = placed.vendors[0]
    member = await staff_member(client, vendor)
    denied = await decide(client, member, placed.order_id, "accept")
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "insufficient store role"
    allowed = await decide_line(
        client, member, placed.order_id, placed.order["items"][0]["line_item_id"], "fulfill"
    )
    assert allowed.status_code == 200, allowed.text
    # Buyer staff read orders but neither cancel, nudge nor retry them.
    shopper = await staff_member(client, placed.buyer)
    assert (await client.get(f"/api/v1/orders/{placed.order_id}", headers=shopper.headers)).status_code == 200
    before = await snapshot(db, placed.order_id)
    for action in ("cancel", "nudge", "retry"):
        refused = await post(client, f"/api/v1/orders/{placed.order_id}/{action}", shopper.headers)
        assert refused.status_code == 403, action
        assert refused.json()["error"]["message"] == "insufficient store role"
    assert await snapshot(db, placed.order_id) == before


async def test_cancel_releases_stock_ends_the_assignment_and_is_recorded(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    placed = await ready_order(client, db, (3, 2))
    agent = await new_agent(client, db, settings)
    await ok(await agent_post(client, agent, placed.order_id, "claim"))
    result = await ok(
        await post(
            client,
            f"/api/v1/orders/{placed.order_id}/cancel",
            placed.buyer.headers,
            {"reason": "changed plans"},
        )
    )
    assert (result["status"], result["balance_due_cents"]) == ("canceled", 0)
    for product in placed.products[0]:
        assert await stock(db, product["id"]) == (100, 0)
    lines = await rows(
        db, "SELECT status, notes FROM order_line_items WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert lines == [{"status": "rejected", "notes": "order_canceled"}] * 2
    [assignment] = await rows(
        db,
        "SELECT active, unassigned_at FROM order_assignments WHERE order_id = :id",
        id=uuid.UUID(placed.order_id),
    )
    assert assignment["active"] is False
    assert assignment["unassigned_at"] is not None
    order = await order_row(db, placed.order_id)
    assert order["canceled_at"] is not None
    [event] = await events(db, "order_canceled")
    assert (event["order_id"], event["reason"]) == (placed.order_id, "changed plans")
    [audit] = await audits(db, "order.canceled")
    assert audit["payload"] == {"reason": "changed plans", "released_lines": 2}
    assert audit["actor_store_id"] == placed.buyer.store_id

    before = await snapshot(db, placed.order_id)
    again = await post(client, f"/api/v1/orders/{placed.order_id}/cancel", placed.buyer.headers)
    assert again.status_code == 200
    assert again.json()["data"]["status"] == "canceled"
    assert await snapshot(db, placed.order_id) == before
    gone = await agent_post(client, agent, placed.order_id, "pickup")
    assert gone.status_code == 403


async def test_cancel_errors(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    path = f"/api/v1/orders/{placed.order_id}/cancel"
    before = await snapshot(db, placed.order_id)
    assert (await post(client, path, placed.vendors[0].headers)).status_code == 403
    long_reason = await post(client, path, placed.buyer.headers, {"reason": "x" * 501})
    assert long_reason.status_code == 400
    assert (
        await post(client, f"/api/v1/orders/{uuid.uuid4()}/cancel", placed.buyer.headers)
    ).status_code == 404
    assert await snapshot(db, placed.order_id) == before


async def test_nudges_are_refused_once_the_order_leaves_the_vendor(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Manual nudges were unlimited; issue #17 allows one per order per 24 h (tests/security)."""
    placed = await place(client, db)
    path = f"/api/v1/orders/{placed.order_id}/nudge"
    for _ in range(2):
        response = await post(client, path, placed.buyer.headers)
        assert response.status_code == 202
        assert response.json() == {"data": {"order_id": placed.order_id}}
        await execute(db, "UPDATE vendor_orders SET last_nudged_at = now() - interval '25 hours'")
    requested = await events(db, "notification_requested")
    assert [(e["order_id"], e["type"]) for e in requested] == [(placed.order_id, "order_nudge")] * 2
    assert (await post(client, path, placed.vendors[0].headers)).status_code == 403
    await ok(await post(client, f"/api/v1/orders/{placed.order_id}/cancel", placed.buyer.headers))
    refused = await post(client, path, placed.buyer.headers)
    assert refused.status_code == 422
    assert len(await events(db, "notification_requested")) == 2


async def test_retry_places_the_expired_order_again_reserving_everything(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((3, 2),))
    first, second = placed.products[0]
    await expire_order(db, placed.order_id)
    assert await stock(db, first["id"]) == (100, 0)

    response = await post(client, f"/api/v1/orders/{placed.order_id}/retry", placed.buyer.headers)
    assert response.status_code == 201, response.text
    new_id = response.json()["data"]["order_id"]
    new = await order_row(db, new_id)
    old = await order_row(db, placed.order_id)
    assert new["status"] == "created_pending"
    assert new["retry_of_order_id"] == old["id"]
    assert new["checkout_group_id"] != old["checkout_group_id"]
    assert (new["cart_id"], new["shipping_address"], new["payment_method"]) == (
        old["cart_id"],
        old["shipping_address"],
        old["payment_method"],
    )
    assert new["total_cents"] == placed.order["total_cents"] == new["balance_due_cents"]
    lines = await rows(
        db,
        "SELECT product_id, qty, status FROM order_line_items WHERE order_id = :id ORDER BY position",
        id=new["id"],
    )
    assert [(str(x["product_id"]), x["qty"], x["status"]) for x in lines] == [
        (first["id"], 3, "pending"),
        (second["id"], 2, "pending"),
    ]
    assert await stock(db, first["id"]) == (97, 3)
    assert await stock(db, second["id"]) == (98, 2)
    intent = await intent_row(db, new_id)
    assert intent is not None
    assert (intent["status"], intent["amount_cents"]) == ("unpaid", new["total_cents"])
    [event] = await events(db, "order_retried")
    assert (event["order_id"], event["original_order_id"]) == (new_id, placed.order_id)
    [audit] = await audits(db, "order.retried")
    assert audit["target_id"] == old["id"]
    assert audit["payload"] == {"new_order_id": new_id}

    again = await post(client, f"/api/v1/orders/{placed.order_id}/retry", placed.buyer.headers)
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"order_id": new_id}
    not_expired = await post(client, f"/api/v1/orders/{new_id}/retry", placed.buyer.headers)
    assert not_expired.status_code == 422


async def test_retry_without_stock_rolls_back_everything(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3, 2),))
    first, second = placed.products[0]
    await expire_order(db, placed.order_id)
    await execute(
        db, "UPDATE inventory_items SET available_qty = 1 WHERE product_id = :p", p=uuid.UUID(second["id"])
    )
    before = await snapshot(db, placed.order_id)
    response = await post(client, f"/api/v1/orders/{placed.order_id}/retry", placed.buyer.headers)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"product_ids": [second["id"]]}
    assert await snapshot(db, placed.order_id) == before
    assert await stock(db, first["id"]) == (100, 0)


async def test_retry_rechecks_the_buyer_and_the_vendor(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    await expire_order(db, placed.order_id)
    before = await snapshot(db, placed.order_id)
    path = f"/api/v1/orders/{placed.order_id}/retry"
    vendor_id = placed.vendors[0].store_id
    assert vendor_id is not None
    assert placed.buyer.store_id is not None
    await set_subscription_active(db, vendor_id, False)
    assert (await post(client, path, placed.buyer.headers)).status_code == 404
    await set_subscription_active(db, vendor_id, True)
    await set_store_kyc(db, placed.buyer.store_id, "pending_verification")
    assert (await post(client, path, placed.buyer.headers)).status_code == 403
    assert await snapshot(db, placed.order_id) == before


async def test_checkout_shipping_address_is_the_orders(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    detail = await ok(await client.get(f"/api/v1/orders/{placed.order_id}", headers=placed.buyer.headers))
    assert detail["order"]["shipping_address"]["line1"] == SHIPPING["line1"]
