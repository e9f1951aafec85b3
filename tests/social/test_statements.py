"""No N+1: the statements of a wishlist, review or customer page do not grow with the page size."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from packfinderz.kit.db import Database
from tests.fixtures.catalog import insert_products, vendor_at
from tests.fixtures.checkout import verified_buyer
from tests.fixtures.db import statements
from tests.social.conftest import execute, place_order, set_status


async def counts_by_limit(
    app: FastAPI, client: httpx.AsyncClient, path: str, headers: dict[str, str], limits: tuple[int, ...]
) -> dict[int, int]:
    found: dict[int, int] = {}
    for limit in limits:
        with statements(app) as seen:
            response = await client.get(path, params={"limit": limit}, headers=headers)
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]["items"]) == limit
        found[limit] = len(seen)
    return found


async def test_wishlist_pages(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await insert_products(db, vendor, 30)
    await execute(
        db,
        "INSERT INTO wishlist_items (store_id, product_id) SELECT :s, id FROM products WHERE store_id = :v",
        s=buyer.store_id,
        v=vendor.store_id,
    )
    lists = await counts_by_limit(app, client, "/api/v1/wishlist", buyer.headers, (1, 30))
    ids = await counts_by_limit(app, client, "/api/v1/wishlist/ids", buyer.headers, (1, 30))
    # membership, gate, page (+ total for the list)
    assert set(lists.values()) == {4}, lists
    assert set(ids.values()) == {3}, ids


async def test_review_and_customer_pages(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    for _ in range(3):
        buyer = await verified_buyer(client, db)
        order = await place_order(client, buyer, vendor)
        await set_status(db, order["order_id"], "delivered")
        body: dict[str, Any] = {"vendor_store_id": str(vendor.store_id), "rating": 4}
        assert (await client.post("/api/v1/reviews", json=body, headers=buyer.headers)).status_code == 201
    path = f"/api/v1/stores/{vendor.store_id}/reviews"
    reviews = await counts_by_limit(app, client, path, vendor.headers, (1, 3))
    customers = await counts_by_limit(app, client, "/api/v1/vendor/customers", vendor.headers, (1, 3))
    assert len(set(reviews.values())) == 1, reviews
    assert len(set(customers.values())) == 1, customers
    assert max(reviews.values()) <= 4
    assert max(customers.values()) <= 3
