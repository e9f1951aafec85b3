"""Checkout test helpers: verified buyers, visible vendors with products, quotes and checkouts over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.catalog.conftest import OKC, buyer_at, create_product, vendor_at
from tests.fixtures.factories import (
    Account,
    accept_invitations,
    idem,
    invite,
    login,
    register_buyer,
    set_store_kyc,
    switch_store,
)

__all__ = ["OKC", "create_product", "vendor_at"]

SHIPPING = {
    "line1": "1 Dock St",
    "city": "Oklahoma City",
    "state": "OK",
    "postal_code": "73102",
    "country": "US",
    "lat": 35.4676,
    "lng": -97.5164,
}


async def verified_buyer(
    client: httpx.AsyncClient, db: Database, address: dict[str, Any] | None = None
) -> Account:
    """A registered buyer whose KYC is verified."""
    buyer = await buyer_at(client, address)
    assert buyer.store_id is not None
    await set_store_kyc(db, buyer.store_id, "verified")
    return buyer


async def staff_member(client: httpx.AsyncClient, owner: Account) -> Account:
    """A user with the `staff` role in the owner's store, signed in and acting in it."""
    other = await register_buyer(client)
    await invite(client, owner, email=other.email, role="staff")
    member = await login(client, other.email, other.password)
    await accept_invitations(client, member)
    assert owner.store_id is not None
    return await switch_store(client, member, owner.store_id)


def line(product: dict[str, Any], quantity: int, vendor: Account | None = None) -> dict[str, Any]:
    """A cart line for a product (its own vendor unless told)."""
    vendor_id = vendor.store_id if vendor is not None else product["vendor"]["store_id"]
    return {"product_id": product["id"], "vendor_store_id": str(vendor_id), "quantity": quantity}


async def post_quote(client: httpx.AsyncClient, buyer: Account, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/cart", json=body, headers={**buyer.headers, **idem()})


async def quote(
    client: httpx.AsyncClient, buyer: Account, *lines: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """POST /api/v1/cart; asserts 200 and returns the CartQuote."""
    response = await post_quote(client, buyer, {"items": list(lines), **extra})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def checkout_body(cart_id: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "cart_id": str(cart_id),
        "shipping_address": dict(SHIPPING),
        "payment_method": "cash",
        **overrides,
    }


async def post_checkout(
    client: httpx.AsyncClient, buyer: Account, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post("/api/v1/checkout", json=body, headers={**buyer.headers, **idem(key)})


async def checkout(
    client: httpx.AsyncClient, buyer: Account, cart_id: Any, **overrides: Any
) -> dict[str, Any]:
    """POST /api/v1/checkout; asserts 201 and returns the CheckoutResult."""
    response = await post_checkout(client, buyer, checkout_body(cart_id, **overrides))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a query as dicts."""
    async with db.transaction() as session:
        result = await session.execute(text(sql), params)
        return [dict(r._mapping) for r in result]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return await session.scalar(text(sql), params)


async def execute(db: Database, sql: str, **params: Any) -> None:
    async with db.transaction() as session:
        await session.execute(text(sql), params)


async def stock(db: Database, product_id: Any) -> tuple[int, int]:
    """(available_qty, reserved_qty) of a product."""
    found = await rows(
        db,
        "SELECT available_qty, reserved_qty FROM inventory_items WHERE product_id = :p",
        p=uuid.UUID(str(product_id)),
    )
    return found[0]["available_qty"], found[0]["reserved_qty"]


async def table_counts(db: Database) -> dict[str, int]:
    """Row counts of every table checkout writes (to prove a refusal changed nothing)."""
    counts = {}
    for table in ("vendor_orders", "order_line_items", "payment_intents", "outbox_events"):
        counts[table] = int(await scalar(db, f"SELECT count(*) FROM {table}"))
    counts["converted_carts"] = int(
        await scalar(db, "SELECT count(*) FROM cart_records WHERE status = 'converted'")
    )
    counts["reserved"] = int(await scalar(db, "SELECT coalesce(sum(reserved_qty), 0) FROM inventory_items"))
    return counts


@dataclass
class Market:
    """Two visible vendors (A and B) in Oklahoma City and a verified buyer there."""

    buyer: Account
    vendor_a: Account
    vendor_b: Account


async def market(client: httpx.AsyncClient, db: Database) -> Market:
    return Market(
        buyer=await verified_buyer(client, db),
        vendor_a=await vendor_at(client, db),
        vendor_b=await vendor_at(client, db),
    )


async def add_license(db: Database, account: Account, *, status: str, expires_in: timedelta | None) -> None:
    """A license of the account's store (with its document media), expiring `expires_in` from now."""
    async with db.transaction() as session:
        media_id = await session.scalar(
            text(
                "INSERT INTO media (store_id, user_id, kind, status, storage_key, file_name, mime_type, "
                "size_bytes) VALUES (:s, :u, 'license_doc', 'uploaded', :k, 'license.pdf', "
                "'application/pdf', 10) RETURNING id"
            ),
            {"s": account.store_id, "u": account.user_id, "k": f"test/{uuid.uuid4()}"},
        )
        await session.execute(
            text(
                "INSERT INTO licenses (store_id, user_id, status, media_id, issuing_state, type, number, "
                "expiration_date) VALUES (:s, :u, :status, :m, 'OK', 'dispensary', :n, "
                "now() + CAST(:e AS interval))"
            ),
            {
                "s": account.store_id,
                "u": account.user_id,
                "status": status,
                "m": media_id,
                "n": uuid.uuid4().hex.upper(),
                "e": expires_in,
            },
        )


async def split_line(db: Database, item_id: uuid.UUID, first: int, second: int) -> None:
    """Put one (undiscounted) cart line on two lines of the same product: `first` + `second` units."""
    columns = (
        "cart_id, product_id, vendor_store_id, vendor_store_name, title, unit, moq, unit_price_cents, status"
    )
    await execute(
        db,
        f"INSERT INTO cart_items ({columns}, position, quantity, effective_unit_price_cents, "
        f"line_subtotal_cents, line_discounts_cents, line_total_cents) SELECT {columns}, position + 1000, "
        "CAST(:q AS integer), unit_price_cents, unit_price_cents * CAST(:q AS integer), 0, "
        "unit_price_cents * CAST(:q AS integer) FROM cart_items WHERE id = :id",
        q=second,
        id=item_id,
    )
    await execute(
        db,
        "UPDATE cart_items SET quantity = CAST(:q AS integer), "
        "line_subtotal_cents = unit_price_cents * CAST(:q AS integer), line_discounts_cents = 0, "
        "line_total_cents = unit_price_cents * CAST(:q AS integer) WHERE id = :id",
        q=first,
        id=item_id,
    )
