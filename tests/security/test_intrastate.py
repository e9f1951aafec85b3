"""Item 1 (issue #17): an order ships only inside the buyer's licensed state and the vendor's radius.

Before the fix a Colorado buyer could check out from a Colorado vendor to a California address (201).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.catalog import DALLAS, TULSA, create_product, set_radius
from tests.fixtures.checkout import (
    SHIPPING,
    checkout,
    checkout_body,
    line,
    market,
    post_checkout,
    quote,
    table_counts,
)
from tests.fixtures.db import stock
from tests.fixtures.orders import expire_order, place, post

CALIFORNIA = {
    "line1": "1 Market St",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94105",
    "country": "US",
    "lat": 37.7936,
    "lng": -122.3958,
}


async def _cart(client: httpx.AsyncClient, db: Database) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    m = await market(client, db)
    product = await create_product(
        client, m.vendor_a, inventory={"available_qty": 10, "low_stock_threshold": 0}
    )
    cart = await quote(client, m.buyer, line(product, 2))
    return m, product, cart


async def test_out_of_state_shipping_is_refused_and_nothing_reserved(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, product, cart = await _cart(client, db)
    before_counts = await table_counts(db)
    before_stock = await stock(db, product["id"])
    for address in (CALIFORNIA, DALLAS):
        response = await post_checkout(client, m.buyer, checkout_body(cart["id"], shipping_address=address))
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "STATE_CONFLICT"
        assert error["details"]["reason"] == "out_of_state"
        assert "OK" in error["message"]
    assert await stock(db, product["id"]) == before_stock
    assert await table_counts(db) == before_counts
    # the same cart checks out to an address in the buyer's state
    result = await checkout(client, m.buyer, cart["id"])
    assert result["shipping_address"]["state"] == "OK"


async def test_radius_vendor_needs_the_drop_off_inside_its_radius(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, product, cart = await _cart(client, db)
    await set_radius(db, m.vendor_a.store_id, 50_000)  # Oklahoma City metro; Tulsa is ~159 km away
    before_stock = await stock(db, product["id"])
    response = await post_checkout(client, m.buyer, checkout_body(cart["id"], shipping_address=dict(TULSA)))
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details == {"reason": "out_of_delivery_radius", "vendor_store_ids": [str(m.vendor_a.store_id)]}
    assert await stock(db, product["id"]) == before_stock
    result = await checkout(client, m.buyer, cart["id"], shipping_address=dict(SHIPPING))
    assert len(result["vendor_orders"]) == 1


async def test_retry_refuses_an_out_of_state_address(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db)
    await expire_order(db, placed.order_id)
    async with db.transaction() as session:  # an order placed before the rule existed
        await session.execute(
            text("UPDATE vendor_orders SET shipping_address = CAST(:a AS jsonb) WHERE id = :id"),
            {"a": json.dumps(CALIFORNIA), "id": placed.order_id},
        )
    before = await table_counts(db)
    response = await post(client, f"/api/v1/orders/{placed.order_id}/retry", placed.buyer.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["reason"] == "out_of_state"
    assert await table_counts(db) == before
