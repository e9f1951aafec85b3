"""Checkout under real concurrency (commerce.md §12): never oversold, no deadlocks, one result per key."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from packfinderz.kit.db import Database
from tests.fixtures.catalog import create_product, vendor_at
from tests.fixtures.checkout import (
    checkout_body,
    line,
    market,
    post_checkout,
    post_quote,
    quote,
    split_line,
    verified_buyer,
)
from tests.fixtures.db import rows, scalar
from tests.fixtures.factories import Account

BUYERS = 50
ROUNDS = 4  # 50 buyers x 4 rounds = 200 checkouts
VENDORS = 4
SKUS_PER_VENDOR = 5  # 20 SKUs
NOTHING_RESERVED = "nothing in this cart could be reserved"
NOTHING_ORDERABLE = "cart has no items that can be ordered; quote the cart again"


async def _split_first_line(db: Database, cart_id: str) -> bool:
    """Put the cart's first undiscounted `ok` line of qty >= 2 on two lines of the same SKU."""
    found = await rows(
        db,
        "SELECT id, quantity FROM cart_items WHERE cart_id = :c AND status = 'ok' "
        "AND quantity >= 2 AND line_discounts_cents = 0 ORDER BY position LIMIT 1",
        c=uuid.UUID(cart_id),
    )
    if not found:
        return False
    quantity = found[0]["quantity"]
    await split_line(db, found[0]["id"], quantity // 2, quantity - quantity // 2)
    return True


@pytest.mark.slow
async def test_concurrent_checkouts_never_oversell(client: httpx.AsyncClient, db: Database) -> None:
    rng = random.Random(7)
    vendors = [await vendor_at(client, db) for _ in range(VENDORS)]
    products: list[dict[str, Any]] = []
    for vendor in vendors:
        for _ in range(SKUS_PER_VENDOR):
            products.append(
                await create_product(
                    client,
                    vendor,
                    price_cents=rng.randint(100, 5000),
                    inventory={"available_qty": rng.randint(20, 40)},
                    volume_discounts=[{"min_qty": 5, "discount_percent": 10}],
                )
            )
    initial = {p["id"]: p["inventory"]["available_qty"] for p in products}
    buyers = list(await asyncio.gather(*(verified_buyer(client, db) for _ in range(BUYERS))))

    def cart_lines() -> list[dict[str, Any]]:
        chosen = rng.sample(products, rng.randint(2, 4))
        lines = [line(p, rng.randint(1, 6)) for p in chosen]
        if rng.random() < 0.3:  # the buyer asks for one SKU on two lines (merged by the quote)
            lines.append(line(chosen[0], rng.randint(1, 3)))
        return lines

    outcomes: Counter[str] = Counter()
    split_carts: set[str] = set()
    accepted: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        quotes = await asyncio.gather(*(post_quote(client, b, {"items": cart_lines()}) for b in buyers))
        assert all(q.status_code == 200 for q in quotes), [q.text for q in quotes if q.status_code != 200][:3]
        carts = [q.json()["data"] for q in quotes]
        for cart in carts[: BUYERS // 4]:
            if await _split_first_line(db, cart["id"]):
                split_carts.add(cart["id"])
        responses = await asyncio.gather(
            *(post_checkout(client, b, checkout_body(c["id"])) for b, c in zip(buyers, carts, strict=True))
        )
        for cart, response in zip(carts, responses, strict=True):
            assert response.status_code in (201, 409), response.text
            if response.status_code == 409:
                error = response.json()["error"]
                assert error["code"] == "CONFLICT"
                if error["message"] == NOTHING_RESERVED:
                    assert error["details"]["rejected_vendors"]
                    # Each product is reported with what was asked and the smaller stock left.
                    short = error["details"]["out_of_stock"]
                    assert short
                    assert all(0 <= s["remaining_qty"] < s["requested_qty"] for s in short), short
                    outcomes["nothing_reserved"] += 1
                else:
                    # Every line was already out of stock when quoted.
                    assert error["message"] == NOTHING_ORDERABLE
                    assert all(i["status"] != "ok" for i in cart["items"])
                    outcomes["nothing_orderable"] += 1
                continue
            outcomes["created"] += 1
            result = response.json()["data"]
            accepted.append(result)
            for order in result["vendor_orders"]:
                for item in order["items"]:
                    assert (item["status"], item["notes"]) in (
                        ("pending", None),
                        ("rejected", "insufficient_inventory"),
                    )
                if cart["id"] in split_carts:
                    # Lines of one SKU share the outcome of its single (merged) reservation.
                    by_product: dict[str, set[str]] = {}
                    for item in order["items"]:
                        by_product.setdefault(item["product_id"], set()).add(item["status"])
                    assert all(len(statuses) == 1 for statuses in by_product.values())

    assert sum(outcomes.values()) == BUYERS * ROUNDS
    # Buyers really raced for the same units: some lost lines, some lost everything.
    lost_lines = [
        i for r in accepted for o in r["vendor_orders"] for i in o["items"] if i["status"] == "rejected"
    ]
    assert outcomes["created"] > 0
    assert lost_lines
    assert outcomes["nothing_reserved"] > 0
    assert split_carts

    stock = {
        str(r["product_id"]): (r["available_qty"], r["reserved_qty"])
        for r in await rows(db, "SELECT product_id, available_qty, reserved_qty FROM inventory_items")
    }
    held = {
        str(r["product_id"]): int(r["qty"])
        for r in await rows(
            db,
            "SELECT product_id, sum(qty) AS qty FROM order_line_items WHERE status = 'pending' "
            "GROUP BY product_id",
        )
    }
    demanded = 0
    for product_id, start in initial.items():
        available, reserved = stock[product_id]
        assert available >= 0
        assert reserved >= 0
        assert available + reserved == start  # nothing created or lost
        assert reserved == held.get(product_id, 0)  # every reserved unit belongs to an accepted line
        demanded += reserved
    assert demanded <= sum(initial.values())
    assert sum(1 for p, (a, _) in stock.items() if a < 5) > 0  # demand exceeded stock somewhere
    # Order rows match what the buyers were told.
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == sum(
        len(r["vendor_orders"]) for r in accepted
    )
    assert (
        await scalar(db, "SELECT count(*) FROM cart_records WHERE status = 'converted'")
        == outcomes["created"]
    )


async def _two_vendor_cart(client: httpx.AsyncClient, db: Database) -> tuple[Account, dict[str, Any]]:
    m = await market(client, db)
    p1 = await create_product(client, m.vendor_a, inventory={"available_qty": 50})
    p2 = await create_product(client, m.vendor_b, inventory={"available_qty": 50})
    cart = await quote(client, m.buyer, line(p1, 3), line(p2, 4))
    return m.buyer, cart


async def test_same_key_sent_concurrently_orders_once(client: httpx.AsyncClient, db: Database) -> None:
    buyer, cart = await _two_vendor_cart(client, db)
    body = checkout_body(cart["id"])
    responses = await asyncio.gather(*(post_checkout(client, buyer, body, key="same-key") for _ in range(12)))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert created
    assert len({r.text for r in created}) == 1
    assert sum(1 for r in created if r.headers.get("Idempotent-Replayed") != "true") == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert await scalar(db, "SELECT count(DISTINCT checkout_group_id) FROM vendor_orders") == 1
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 2
    assert await scalar(db, "SELECT sum(reserved_qty) FROM inventory_items") == 7
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE event_type = 'order_created'") == 1


async def test_same_cart_with_different_keys_converts_once(client: httpx.AsyncClient, db: Database) -> None:
    buyer, cart = await _two_vendor_cart(client, db)
    responses = await asyncio.gather(
        *(post_checkout(client, buyer, checkout_body(cart["id"])) for _ in range(8))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 1, 200: 7}), [r.text for r in responses]
    assert len({r.text for r in responses}) == 1  # the replays carry the very same result
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == 2
    assert await scalar(db, "SELECT sum(reserved_qty) FROM inventory_items") == 7
    assert await scalar(db, "SELECT count(*) FROM outbox_events") == 2


@pytest.mark.parametrize("stock", [5, 6])
async def test_hot_sku_losers_get_409_with_the_remaining_stock(
    client: httpx.AsyncClient, db: Database, stock: int
) -> None:
    """12 buyers race for one SKU that can serve only a few of them (2 units each): exactly as many win
    as the stock can serve (none is refused while it could be served), nothing is oversold, and every
    loser gets 409 with the product and the units left, whether refused at admission or under the lock."""
    m = await market(client, db)
    hot = await create_product(client, m.vendor_a, inventory={"available_qty": stock})
    buyers = [m.buyer, *await asyncio.gather(*(verified_buyer(client, db) for _ in range(11)))]
    carts = [await quote(client, buyer, line(hot, 2)) for buyer in buyers]
    responses = await asyncio.gather(
        *(post_checkout(client, b, checkout_body(c["id"])) for b, c in zip(buyers, carts, strict=True))
    )
    statuses = Counter(r.status_code for r in responses)
    winners = stock // 2
    assert statuses == Counter({201: winners, 409: len(buyers) - winners}), [r.text for r in responses]
    for response in responses:
        if response.status_code != 409:
            continue
        error = response.json()["error"]
        assert (error["code"], error["message"]) == ("CONFLICT", NOTHING_RESERVED)
        assert error["details"]["out_of_stock"] == [
            {
                "product_id": hot["id"],
                "product_name": hot["title"],
                "requested_qty": 2,
                "remaining_qty": stock % 2,
            }
        ]
        [rejected] = error["details"]["rejected_vendors"]
        assert (rejected["reason"], rejected["order_id"]) == ("insufficient_inventory", None)
    [row] = await rows(
        db,
        "SELECT available_qty, reserved_qty FROM inventory_items WHERE product_id = :p",
        p=uuid.UUID(hot["id"]),
    )
    assert (row["available_qty"], row["reserved_qty"]) == (stock % 2, 2 * winners)
    assert await scalar(db, "SELECT count(*) FROM vendor_orders") == winners
    assert (
        await scalar(db, "SELECT count(*) FROM cart_records WHERE status = 'active'") == len(buyers) - winners
    )
