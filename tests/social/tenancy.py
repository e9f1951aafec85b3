"""Tenancy matrix entries for the wishlist, review and vendor CRM routes (appended to
tests/identity/test_tenancy.py): store B never reads or changes store A's wishlist, reviews or customers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from tests.fixtures.catalog import create_product
from tests.fixtures.factories import make_vendor_visible, set_store_kyc
from tests.social.conftest import place_order, set_status


async def _market(world: Any) -> None:
    """A's vendor visible and A's buyer verified, so A can order; B's buyer verified too, so any refusal
    comes from tenancy, not from KYC."""
    await make_vendor_visible(world.db, world.a_vendor.store_id)
    for buyer in (world.a_buyer, world.b_buyer):
        await set_store_kyc(world.db, buyer.store_id, "verified")


async def a_wishlist_item(world: Any) -> dict[str, Any]:
    """A product of A's vendor on A's buyer's wishlist."""
    await _market(world)
    product = await create_product(world.client, world.a_vendor)
    response = await world.client.post(
        "/api/v1/wishlist/items", json={"product_id": product["id"]}, headers=world.a_buyer.headers
    )
    assert response.status_code == 201, response.text
    async with world.db.transaction() as session:
        row_id = await session.scalar(
            text("SELECT id FROM wishlist_items WHERE store_id = :s"), {"s": world.a_buyer.store_id}
        )
    return {"id": row_id, "table": "wishlist_items", "product_id": product["id"]}


async def a_review(world: Any) -> dict[str, Any]:
    """A's buyer's review of A's vendor, after a delivered order."""
    await _market(world)
    order = await place_order(world.client, world.a_buyer, world.a_vendor)
    await set_status(world.db, order["order_id"], "delivered")
    response = await world.client.post(
        "/api/v1/reviews",
        json={"vendor_store_id": str(world.a_vendor.store_id), "rating": 4, "title": "A's own words"},
        headers=world.a_buyer.headers,
    )
    assert response.status_code == 201, response.text
    return {
        "id": uuid.UUID(response.json()["data"]["id"]),
        "table": "reviews",
        "review_id": response.json()["data"]["id"],
        "vendor_id": str(world.a_vendor.store_id),
    }


async def a_hidden_vendor(world: Any) -> dict[str, Any]:
    """A's vendor store, not visible to buyers (KYC pending)."""
    return {"id": world.a_vendor.store_id, "table": "stores", "vendor_id": str(world.a_vendor.store_id)}


async def a_customer(world: Any) -> dict[str, Any]:
    """A's buyer store, a customer of A's vendor."""
    await _market(world)
    await place_order(world.client, world.a_buyer, world.a_vendor)
    return {"id": world.a_buyer.store_id, "table": "stores", "buyer_id": str(world.a_buyer.store_id)}


async def a_hidden_customer(world: Any) -> dict[str, Any]:
    """A's vendor hid A's buyer from its customer list (the hide row)."""
    found = await a_customer(world)
    response = await world.client.delete(
        f"/api/v1/vendor/customers/{found['buyer_id']}", headers=world.a_vendor.headers
    )
    assert response.status_code == 204, response.text
    async with world.db.transaction() as session:
        row_id = await session.scalar(
            text("SELECT id FROM vendor_customer_hides WHERE vendor_store_id = :v"),
            {"v": world.a_vendor.store_id},
        )
    return {"id": row_id, "table": "vendor_customer_hides", "buyer_id": found["buyer_id"]}


def cases(case: Any) -> list[Any]:
    """The wishlist, review and CRM rows of the matrix, built with the matrix's TenancyCase class."""
    return [
        case("wishlist: B's list", "GET", "/api/v1/wishlist", a_wishlist_item, (200,), "b_buyer"),
        case("wishlist: B's ids", "GET", "/api/v1/wishlist/ids", a_wishlist_item, (200,), "b_buyer"),
        case(
            "wishlist: remove A's item (B's own list)",
            "DELETE",
            "/api/v1/wishlist/items/{product_id}",
            a_wishlist_item,
            (204,),
            "b_buyer",
        ),
        case(
            "wishlist: add A's item (lands in B)",
            "POST",
            "/api/v1/wishlist/items",
            a_wishlist_item,
            (201,),
            "b_buyer",
            body=lambda r: {"product_id": r["product_id"]},
        ),
        case("wishlist: B vendor's list", "GET", "/api/v1/wishlist", a_wishlist_item, (200,)),
        case(
            "reviews: delete A's review", "DELETE", "/api/v1/reviews/{review_id}", a_review, (404,), "b_buyer"
        ),
        case(
            "reviews: delete A's review as a vendor",
            "DELETE",
            "/api/v1/reviews/{review_id}",
            a_review,
            (404,),
        ),
        case(
            "reviews: review A's vendor without buying (B)",
            "POST",
            "/api/v1/reviews",
            a_review,
            (400,),
            "b_buyer",
            body=lambda r: {"vendor_store_id": r["vendor_id"], "rating": 1},
        ),
        case(
            "reviews: hidden vendor's reviews",
            "GET",
            "/api/v1/stores/{vendor_id}/reviews",
            a_hidden_vendor,
            (404,),
            "b_buyer",
        ),
        case("customers: B's list", "GET", "/api/v1/vendor/customers", a_customer, (200,)),
        case(
            "customers: B's list by spend",
            "GET",
            "/api/v1/vendor/customers?sort=total_spent",
            a_customer,
            (200,),
        ),
        case(
            "customers: A's customer detail", "GET", "/api/v1/vendor/customers/{buyer_id}", a_customer, (404,)
        ),
        case(
            "customers: hide A's customer",
            "DELETE",
            "/api/v1/vendor/customers/{buyer_id}",
            a_customer,
            (404,),
        ),
        case(
            "customers: re-hide A's hidden customer",
            "DELETE",
            "/api/v1/vendor/customers/{buyer_id}",
            a_hidden_customer,
            (404,),
        ),
        case(
            "customers: A's customer detail as a buyer",
            "GET",
            "/api/v1/vendor/customers/{buyer_id}",
            a_customer,
            (403,),
            "b_buyer",
        ),
    ]
