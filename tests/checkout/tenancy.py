"""Tenancy matrix entries for the cart and checkout routes (appended to tests/identity/test_tenancy.py).

Each maker gives store A a real quote (and, for confirmations, a real checkout) and verifies store B's
buyer too, so B is refused by tenancy and not merely by KYC.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fixtures.catalog import create_product
from tests.fixtures.checkout import SHIPPING, checkout, line, quote
from tests.fixtures.factories import make_vendor_visible, set_store_kyc


async def _a_quote(world: Any) -> dict[str, Any]:
    await make_vendor_visible(world.db, world.a_vendor.store_id)
    for buyer in (world.a_buyer, world.b_buyer):
        await set_store_kyc(world.db, buyer.store_id, "verified")
    product = await create_product(world.client, world.a_vendor)
    cart = await quote(world.client, world.a_buyer, line(product, 1))
    return {"cart": cart, "product": product}


async def a_cart(world: Any) -> dict[str, Any]:
    """A's active cart."""
    made = await _a_quote(world)
    product = made["product"]
    return {
        "id": uuid.UUID(made["cart"]["id"]),
        "table": "cart_records",
        "product_id": product["id"],
        "vendor_id": product["vendor"]["store_id"],
    }


async def a_order(world: Any) -> dict[str, Any]:
    """A's vendor order from a checkout (addressed by its checkout group)."""
    made = await _a_quote(world)
    result = await checkout(world.client, world.a_buyer, made["cart"]["id"])
    order = result["vendor_orders"][0]
    return {
        "id": uuid.UUID(order["order_id"]),
        "table": "vendor_orders",
        "group_id": result["checkout_group_id"],
        "cart_id": made["cart"]["id"],
    }


def _quote_body(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "items": [
            {"product_id": resource["product_id"], "vendor_store_id": resource["vendor_id"], "quantity": 1}
        ]
    }


def cases(case: Any) -> list[Any]:
    """The cart and checkout rows of the matrix, built with the matrix's TenancyCase class."""
    return [
        case(
            "cart: quote (lands in B's own cart)",
            "POST",
            "/api/v1/cart",
            a_cart,
            (200,),
            "b_buyer",
            _quote_body,
        ),
        case("cart: read (B's own)", "GET", "/api/v1/cart", a_cart, (404,), "b_buyer"),
        case(
            "checkout: A's cart",
            "POST",
            "/api/v1/checkout",
            a_cart,
            (404,),
            "b_buyer",
            lambda r: {"cart_id": str(r["id"]), "shipping_address": SHIPPING, "payment_method": "cash"},
        ),
        case(
            "checkout: A's confirmation",
            "GET",
            "/api/v1/checkout/{group_id}/confirmation",
            a_order,
            (403,),
            "b_buyer",
        ),
        case(
            "checkout: A's confirmation by cart",
            "GET",
            "/api/v1/checkout/{cart_id}/confirmation",
            a_order,
            (403,),
            "b_buyer",
        ),
        case(
            "checkout: A's confirmation as a vendor",
            "GET",
            "/api/v1/checkout/{group_id}/confirmation",
            a_order,
            (403,),
        ),
    ]
