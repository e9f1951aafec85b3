"""Inventory (commerce.md §4.5): list, PUT, low-stock notices, and the stock invariants."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from packfinderz.catalog.repository import inventory
from packfinderz.kit.db import Database
from tests.fixtures.catalog import all_pages, create_product, error, insert_products, vendor_at
from tests.fixtures.factories import Account, idem, register_buyer


async def put(
    client: httpx.AsyncClient, vendor: Account, product_id: Any, body: Any, key: str | None = None
) -> httpx.Response:
    return await client.put(
        f"/api/v1/inventory/{product_id}", json=body, headers={**vendor.headers, **idem(key)}
    )


async def notices(db: Database) -> list[Any]:
    async with db.transaction() as session:
        return list(
            (await session.execute(text("SELECT store_id, type, title, link FROM notifications"))).all()
        )


async def stock(db: Database, product_id: Any) -> tuple[int, int]:
    async with db.transaction() as session:
        row = (
            await session.execute(
                text("SELECT available_qty, reserved_qty FROM inventory_items WHERE product_id = :p"),
                {"p": product_id},
            )
        ).one()
    return row[0], row[1]


@pytest.fixture
async def vendor(client: httpx.AsyncClient, db: Database) -> Account:
    return await vendor_at(client, db)


async def test_list_pages_through_the_vendors_rows(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    made = await insert_products(db, vendor, 7)
    other = await vendor_at(client, db)
    await insert_products(db, other, 3)
    items = await all_pages(client, vendor, "/api/v1/inventory", limit=3)
    assert [uuid.UUID(i["product_id"]) for i in items] == list(reversed(made))  # newest first
    first = items[0]
    assert set(first) == {
        "product_id", "sku", "title", "is_active", "available_qty", "reserved_qty", "low_stock_threshold",
        "updated_at", "low_stock",
    }  # fmt: skip
    page = (await client.get("/api/v1/inventory", params={"limit": 3}, headers=vendor.headers)).json()["data"]
    assert "total" not in page
    assert page["next_cursor"]
    bad = await client.get("/api/v1/inventory", params={"cursor": "garbage!"}, headers=vendor.headers)
    assert bad.status_code == 400
    assert set(error(bad)["details"]) == {"cursor"}  # the schema pattern refuses it
    buyer = await register_buyer(client)
    assert (await client.get("/api/v1/inventory", headers=buyer.headers)).status_code == 403


async def test_put_sets_stock_and_keeps_threshold(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor, inventory={"available_qty": 100, "low_stock_threshold": 5})
    response = await put(client, vendor, product["id"], {"available_qty": 60})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["available_qty"], data["low_stock_threshold"], data["low_stock"]) == (60, 5, False)
    assert data["sku"] == product["sku"]
    replay = await put(client, vendor, product["id"], {"available_qty": 60}, key="same")
    again = await put(client, vendor, product["id"], {"available_qty": 60}, key="same")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == replay.json()
    assert (await put(client, vendor, product["id"], {"available_qty": 1}, key="same")).status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"available_qty": -1}, "available_qty"),
        ({"available_qty": "5"}, "available_qty"),
        ({}, "available_qty"),
        ({"available_qty": 5, "low_stock_threshold": -2}, "low_stock_threshold"),
        ({"available_qty": 5, "reserved_qty": 0}, "reserved_qty"),
    ],
)
async def test_put_rejects_bad_input(
    client: httpx.AsyncClient, db: Database, vendor: Account, body: dict[str, Any], field: str
) -> None:
    product = await create_product(client, vendor)
    response = await put(client, vendor, product["id"], body)
    assert response.status_code == 400
    assert field in error(response)["details"]
    assert await stock(db, product["id"]) == (100, 0)


async def test_put_refuses_other_stores_staff_and_unknown(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    other = await vendor_at(client, db)
    assert (await put(client, other, product["id"], {"available_qty": 0})).status_code == 404  # #17: was 403
    assert (await put(client, vendor, uuid.uuid4(), {"available_qty": 0})).status_code == 404
    assert (await put(client, vendor, "bad", {"available_qty": 0})).status_code == 400
    assert await stock(db, product["id"]) == (100, 0)


async def test_low_stock_notice_once_per_crossing(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor, inventory={"available_qty": 50, "low_stock_threshold": 10})
    await put(client, vendor, product["id"], {"available_qty": 20})
    assert await notices(db) == []
    await put(client, vendor, product["id"], {"available_qty": 10})  # at the threshold: low
    found = await notices(db)
    assert len(found) == 1
    assert found[0][:3] == (vendor.store_id, "order_alert", f"Low stock: {product['title']}")
    assert found[0][3] == f"/vendor/products/{product['id']}"
    await put(client, vendor, product["id"], {"available_qty": 3})  # still low: no second notice
    assert len(await notices(db)) == 1
    await put(client, vendor, product["id"], {"available_qty": 30})  # back above
    await client.patch(
        f"/api/v1/vendor/products/{product['id']}",
        json={"inventory": {"available_qty": 30, "low_stock_threshold": 40}},
        headers=vendor.headers,
    )  # the threshold moving above the stock is a crossing too
    assert len(await notices(db)) == 2


# --- invariants --------------------------------------------------------------------------------------


async def test_checks_keep_stock_non_negative(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    for assignment in ("available_qty = -1", "reserved_qty = -1", "low_stock_threshold = -1"):
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await session.execute(text(f"UPDATE inventory_items SET {assignment}"))
    assert await stock(db, product["id"]) == (100, 0)


async def test_reservations_never_exceed_what_was_available(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    """40 concurrent transactions each try to reserve 3 of 100 units: exactly 33 succeed, none oversell."""
    product = await create_product(client, vendor, inventory={"available_qty": 100, "low_stock_threshold": 0})
    product_id = uuid.UUID(product["id"])

    async def attempt() -> bool:
        async with db.transaction() as session:
            return (await inventory.reserve(session, {product_id: 3})).reserved[product_id]

    outcomes = await asyncio.gather(*(attempt() for _ in range(40)))
    assert outcomes.count(True) == 33
    assert await stock(db, product_id) == (1, 99)  # available + reserved is conserved


async def test_reservation_of_several_products_locks_in_id_order(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    """Concurrent multi-product reservations in opposite orders finish without deadlock."""
    first = uuid.UUID((await create_product(client, vendor))["id"])
    second = uuid.UUID((await create_product(client, vendor))["id"])

    async def attempt(order: list[uuid.UUID]) -> dict[uuid.UUID, bool]:
        async with db.transaction() as session:
            return (await inventory.reserve(session, dict.fromkeys(order, 1))).reserved

    results = await asyncio.gather(
        *(attempt([first, second] if i % 2 else [second, first]) for i in range(30))
    )
    assert all(r == {first: True, second: True} for r in results)
    assert await stock(db, first) == (70, 30)
    assert await stock(db, second) == (70, 30)
    # Without an inventory row, or with too little stock, a reservation fails instead of overselling.
    missing = uuid.uuid4()
    assert await attempt([missing]) == {missing: False}
    async with db.transaction() as session:
        assert (await inventory.reserve(session, {first: 71})).reserved == {first: False}
    assert await stock(db, first) == (70, 30)
