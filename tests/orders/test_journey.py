"""The whole journey of issue #8, through HTTP, with the real dispatch consumer over Redis Streams."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.catalog import create_product
from tests.fixtures.checkout import checkout, line, quote
from tests.fixtures.compliance import decide as decide_license
from tests.fixtures.compliance import submit_license
from tests.fixtures.db import event_counts, events, ledger, rows, stock
from tests.fixtures.factories import register_buyer, register_vendor, set_subscription_active
from tests.fixtures.orders import (
    agent_post,
    beat,
    decide,
    decide_line,
    dispatched,
    new_admin,
    new_agent,
    ok,
    order_row,
    post,
    worker,
)


async def test_from_registration_to_payout(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    admin = await new_admin(client, db, settings)

    # Register a buyer and two vendors; licenses are submitted and verified by an admin (KYC follows).
    buyer = await register_buyer(client)
    vendor_a = await register_vendor(client)
    vendor_b = await register_vendor(client)
    for account in (buyer, vendor_a, vendor_b):
        license_ = await submit_license(client, account)
        assert (await decide_license(client, admin, license_["id"], "verified")).status_code == 200
        me = await ok(await client.get("/api/v1/stores/me", headers=account.headers))
        assert me["kyc_status"] == "verified"
    for vendor in (vendor_a, vendor_b):
        assert vendor.store_id is not None
        await set_subscription_active(db, vendor.store_id, True)  # billing is another issue's job

    # Vendors list products; the buyer finds them by search.
    tag = uuid.uuid4().hex[:6]
    stock_of = {"a1": 100, "a2": 50, "b1": 40, "b2": 30}
    products: dict[str, dict[str, Any]] = {}
    for name, vendor, price in (
        ("a1", vendor_a, 1000),
        ("a2", vendor_a, 2500),
        ("b1", vendor_b, 700),
        ("b2", vendor_b, 400),
    ):
        products[name] = await create_product(
            client,
            vendor,
            title=f"Journey {tag} {name}",
            price_cents=price,
            inventory={"available_qty": stock_of[name], "low_stock_threshold": 0},
            **({"volume_discounts": [{"min_qty": 10, "discount_percent": 10}]} if name == "a1" else {}),
        )
    found = await ok(
        await client.get("/api/v1/products", params={"q": f"journey {tag}"}, headers=buyer.headers)
    )
    assert {p["id"] for p in found["items"]} == {p["id"] for p in products.values()}

    # Quote and check out from both vendors.
    bought = {"a1": 12, "a2": 2, "b1": 5, "b2": 3}
    cart = await quote(client, buyer, *(line(products[n], q) for n, q in bought.items()))
    result = await checkout(client, buyer, cart["id"])
    orders = {o["vendor_store_id"]: o for o in result["vendor_orders"]}
    order_a, order_b = orders[str(vendor_a.store_id)], orders[str(vendor_b.store_id)]
    assert (order_a["total_cents"], order_b["total_cents"]) == (12000 - 1200 + 5000, 3500 + 1200)
    for name, qty in bought.items():
        assert await stock(db, products[name]["id"]) == (stock_of[name] - qty, qty)

    # Vendor A accepts everything and fulfils each line.
    assert (await ok(await decide(client, vendor_a, order_a["order_id"], "ACCEPT")))["status"] == "accepted"
    for item in order_a["items"]:
        last = await ok(
            await decide_line(client, vendor_a, order_a["order_id"], item["line_item_id"], "fulfill")
        )
    assert last["status"] == "ready_for_dispatch"
    assert last["balance_due_cents"] == 15800

    # Vendor B rejects the b2 line and fulfils the other: partial fulfilment, the amount due follows.
    b2 = next(i for i in order_b["items"] if i["product_id"] == products["b2"]["id"])
    b1 = next(i for i in order_b["items"] if i["product_id"] == products["b1"]["id"])
    rejected = await ok(
        await decide_line(client, vendor_b, order_b["order_id"], b2["line_item_id"], "reject", "out of stock")
    )
    assert (rejected["status"], rejected["balance_due_cents"]) == ("partially_accepted", 3500)
    assert await stock(db, products["b2"]["id"]) == (30, 0)  # released at once
    ready_b = await ok(
        await decide_line(client, vendor_b, order_b["order_id"], b1["line_item_id"], "fulfill")
    )
    assert (ready_b["status"], ready_b["fulfillment_status"], ready_b["balance_due_cents"]) == (
        "ready_for_dispatch",
        "partial",
        3500,
    )
    detail_b = await ok(await client.get(f"/api/v1/orders/{order_b['order_id']}", headers=buyer.headers))
    assert detail_b["payment_intent"]["amount_cents"] == 3500
    assert detail_b["order"]["total_cents"] == 3500

    # Two agents report in; the worker's dispatch consumer gives each ready order to one of them.
    agents = [await new_agent(client, db, settings) for _ in range(2)]
    for agent in agents:
        assert (await beat(client, agent, lat=35.46, lng=-97.51)).status_code == 200
    async with worker(settings, db, redis, "dispatch") as relay:
        await dispatched(db, relay, [order_a["order_id"], order_b["order_id"]])
    holder: dict[str, Any] = {}
    for order in (order_a, order_b):
        [assignment] = await rows(
            db, "SELECT * FROM order_assignments WHERE order_id = :id", id=uuid.UUID(order["order_id"])
        )
        assert assignment["source"] == "auto"
        assert assignment["assigned_by_user_id"] is None
        holder[order["order_id"]] = next(a for a in agents if a.id == assignment["agent_user_id"])

    # The buyer's checkout confirmation shows who carries each order.
    group = result["checkout_group_id"]
    confirmation = await ok(await client.get(f"/api/v1/checkout/{group}/confirmation", headers=buyer.headers))
    carried = {o["order_id"]: o["active_assignment"] for o in confirmation["vendor_orders"]}
    for order in (order_a, order_b):
        assert carried[order["order_id"]]["agent_user_id"] == str(holder[order["order_id"]].id)
        assert carried[order["order_id"]]["source"] == "auto"

    # Each holder picks up, delivers and collects the cash.
    for order in (order_a, order_b):
        agent = holder[order["order_id"]]
        queue = await ok(await client.get("/api/v1/agent/orders", headers=agent.headers))
        assert order["order_id"] in {o["id"] for o in queue["items"]}
        assert (await ok(await agent_post(client, agent, order["order_id"], "pickup")))[
            "status"
        ] == "in_transit"
        assert (await ok(await agent_post(client, agent, order["order_id"], "deliver")))[
            "status"
        ] == "delivered"
        due = (await order_row(db, order["order_id"]))["total_cents"]
        cash = await ok(
            await agent_post(client, agent, order["order_id"], "cash-collected", {"amount_cents": due})
        )
        assert (cash["payment_status"], cash["balance_due_cents"], cash["status"]) == (
            "settled",
            0,
            "delivered",
        )

    # The admin sees both in the payout queue and confirms the payouts.
    queue = await ok(await client.get("/api/admin/v1/orders/payouts", headers=admin))
    assert {i["order_id"] for i in queue["items"]} == {order_a["order_id"], order_b["order_id"]}
    for order in (order_a, order_b):
        paid = await ok(await post(client, f"/api/admin/v1/orders/{order['order_id']}/confirm-payout", admin))
        assert (paid["status"], paid["payment_status"]) == ("closed", "paid")
    assert (await ok(await client.get("/api/admin/v1/orders/payouts", headers=admin)))["items"] == []

    # The ledger: one cash collection and one payout per order, with parties and actors.
    entries = await ledger(db)
    assert sorted((str(e["order_id"]), e["type"], e["amount_cents"]) for e in entries) == sorted(
        [
            (order_a["order_id"], "cash_collected", 15800),
            (order_a["order_id"], "vendor_payout", 15800),
            (order_b["order_id"], "cash_collected", 3500),
            (order_b["order_id"], "vendor_payout", 3500),
        ]
    )
    for entry in entries:
        assert entry["buyer_store_id"] == buyer.store_id
        vendor = vendor_a if str(entry["order_id"]) == order_a["order_id"] else vendor_b
        assert entry["vendor_store_id"] == vendor.store_id
        if entry["type"] == "cash_collected":
            assert entry["actor_user_id"] == holder[str(entry["order_id"])].id

    # Every expected event exactly once.
    counts = await event_counts(db)
    assert counts == {
        "order_created": 1,
        "checkout_converted": 1,
        "order_decided": 1,
        "order_ready_for_dispatch": 2,
        "cash_collected": 2,
        "order_paid": 2,
        "license_status_changed": 6,
    }
    ready = await events(db, "order_ready_for_dispatch")
    assert Counter(
        (e["order_id"], e["fulfillment_status"], e["rejected_item_count"]) for e in ready
    ) == Counter([(order_a["order_id"], "fulfilled", 0), (order_b["order_id"], "partial", 1)])
    paid_events = await events(db, "order_paid")
    assert {(e["order_id"], e["amount_cents"]) for e in paid_events} == {
        (order_a["order_id"], 15800),
        (order_b["order_id"], 3500),
    }

    # Inventory ends where arithmetic says: delivered lines consumed, the rejected one released.
    assert await stock(db, products["a1"]["id"]) == (88, 0)
    assert await stock(db, products["a2"]["id"]) == (48, 0)
    assert await stock(db, products["b1"]["id"]) == (35, 0)
    assert await stock(db, products["b2"]["id"]) == (30, 0)
