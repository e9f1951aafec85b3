"""Catalog test helpers: vendors and buyers at chosen places, products through the API or in bulk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text

from packfinderz.kit.db import Database
from packfinderz.models.catalog import InventoryItem, Product
from tests.fixtures.factories import DEFAULT_ADDRESS, Account, idem, make_vendor_visible, register_store

OKC = dict(DEFAULT_ADDRESS)  # Oklahoma City
EDMOND = {**DEFAULT_ADDRESS, "city": "Edmond", "postal_code": "73034", "lat": 35.6528, "lng": -97.4781}
TULSA = {**DEFAULT_ADDRESS, "city": "Tulsa", "postal_code": "74103", "lat": 36.1540, "lng": -95.9928}
DALLAS = {
    **DEFAULT_ADDRESS,
    "city": "Dallas",
    "state": "TX",
    "postal_code": "75201",
    "lat": 32.7767,
    "lng": -96.7970,
}
OKC_TO_TULSA_M = 159_000  # about; tests use radii well on either side of it


async def vendor_at(
    client: httpx.AsyncClient, db: Database, address: dict[str, Any] | None = None, *, visible: bool = True
) -> Account:
    """A registered vendor (verified and subscribed unless `visible=False`)."""
    account = await register_store(client, store_type="vendor", address=dict(address or OKC))
    if visible:
        assert account.store_id is not None
        await make_vendor_visible(db, account.store_id)
    return account


async def buyer_at(client: httpx.AsyncClient, address: dict[str, Any] | None = None) -> Account:
    return await register_store(client, store_type="buyer", address=dict(address or OKC))


async def set_radius(db: Database, store_id: uuid.UUID | None, metres: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE stores SET delivery_radius_meters = :m WHERE id = :id"),
            {"m": metres, "id": store_id},
        )


def product_body(**overrides: Any) -> dict[str, Any]:
    """A valid create body with a unique SKU."""
    body: dict[str, Any] = {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "title": "Blue Dream Flower 3.5g",
        "category": "flower",
        "unit": "eighth",
        "feelings": ["happy"],
        "flavors": ["sweet"],
        "usage": ["stress_relief"],
        "moq": 1,
        "price_cents": 2500,
        "inventory": {"available_qty": 100, "low_stock_threshold": 5},
    }
    body.update(overrides)
    return body


async def create_product(client: httpx.AsyncClient, vendor: Account, **overrides: Any) -> dict[str, Any]:
    """POST a product as the vendor; asserts 201 and returns `data`."""
    response = await client.post(
        "/api/v1/vendor/products", json=product_body(**overrides), headers={**vendor.headers, **idem()}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def insert_products(
    db: Database,
    vendor: Account,
    count: int,
    *,
    state: str = "OK",
    start: datetime | None = None,
    **values: Any,
) -> list[uuid.UUID]:
    """`count` products of the vendor straight into the tables (fast fixtures for lists), one second
    apart in created_at (newest last), each with 10 units of stock."""
    base = start or datetime.now(UTC) - timedelta(days=1)
    rows = []
    for index in range(count):
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "store_id": vendor.store_id,
            "vendor_state": state,
            "sku": f"BULK-{uuid.uuid4().hex[:10]}",
            "title": f"Bulk product {index}",
            "category": "flower",
            "unit": "gram",
            "price_cents": 1000 + index,
            "created_at": base + timedelta(seconds=index),
            "updated_at": base + timedelta(seconds=index),
        }
        row.update(values)
        rows.append(row)
    async with db.transaction() as session:
        await session.execute(insert(Product), rows)
        await session.execute(
            insert(InventoryItem), [{"product_id": r["id"], "available_qty": 10} for r in rows]
        )
    return [r["id"] for r in rows]


async def browse(client: httpx.AsyncClient, account: Account, **params: Any) -> httpx.Response:
    return await client.get("/api/v1/products", params=params, headers=account.headers)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]["items"]]


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


async def all_pages(
    client: httpx.AsyncClient, account: Account, path: str, **params: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; returns every item in order."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=account.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        items.extend(data["items"])
        cursor = data["next_cursor"]
        if cursor is None:
            return items
