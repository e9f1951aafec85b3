"""Helpers of the social suites (wishlist, reviews, address lookup, vendor CRM).

Orders are placed through the API (product → quote → checkout). States only the agent flow reaches
(`delivered`, `closed`) are set directly in setups that are about reviews, not delivery; one review test
walks the real agent flow to delivery.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.catalog import create_product
from tests.fixtures.checkout import checkout, line, quote
from tests.fixtures.factories import Account


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        return [dict(r._mapping) for r in await session.execute(text(sql), params)]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(sql), params)


async def place_order(
    client: httpx.AsyncClient,
    buyer: Account,
    vendor: Account,
    *,
    qty: int = 1,
    price_cents: int = 1000,
    product: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One order of `qty` units from the vendor (a new product unless given); the vendor order result."""
    product = product or await create_product(client, vendor, price_cents=price_cents)
    cart = await quote(client, buyer, line(product, qty))
    [order] = (await checkout(client, buyer, cart["id"]))["vendor_orders"]
    return dict(order)


async def set_status(db: Database, order_id: Any, status: str) -> None:
    """Move an order to a status directly (setup only; see the module docstring)."""
    await execute(
        db, "UPDATE vendor_orders SET status = :s WHERE id = :id", s=status, id=uuid.UUID(str(order_id))
    )


async def store_ratings(client: httpx.AsyncClient, vendor: Account) -> dict[str, Any]:
    """The vendor's `ratings` as its members read them (GET /stores/me)."""
    response = await client.get("/api/v1/stores/me", headers=vendor.headers)
    assert response.status_code == 200, response.text
    ratings: dict[str, Any] = response.json()["data"]["ratings"]
    return ratings


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body
