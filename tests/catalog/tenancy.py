"""Tenancy matrix entries for the catalog routes (appended to tests/identity/test_tenancy.py).

Store A's vendor is not visible (KYC pending), so B's buyer must get 404 wherever it could probe it.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fixtures.catalog import create_product, product_body


async def a_product(world: Any) -> dict[str, Any]:
    """A product of A's vendor store."""
    product = await create_product(world.client, world.a_vendor)
    return {
        "id": uuid.UUID(product["id"]),
        "table": "products",
        "product_id": product["id"],
        "store_id": world.a_vendor.store_id,
    }


def cases(case: Any) -> list[Any]:
    """The catalog rows of the matrix, built with the matrix's TenancyCase class."""
    return [
        case(
            "catalog: patch A's product",
            "PATCH",
            "/api/v1/vendor/products/{product_id}",
            a_product,
            (403,),
            body=lambda r: {"title": "stolen"},
        ),
        case(
            "catalog: delete A's product", "DELETE", "/api/v1/vendor/products/{product_id}", a_product, (403,)
        ),
        case(
            "catalog: A's product inventory",
            "PUT",
            "/api/v1/inventory/{product_id}",
            a_product,
            (403,),
            body=lambda r: {"available_qty": 0},
        ),
        case(
            "catalog: read A's product as a vendor", "GET", "/api/v1/products/{product_id}", a_product, (403,)
        ),
        case(
            "catalog: read A's hidden product as a buyer",
            "GET",
            "/api/v1/products/{product_id}",
            a_product,
            (404,),
            "b_buyer",
        ),
        case(
            "catalog: A's hidden storefront",
            "GET",
            "/api/v1/stores/{store_id}/products",
            a_product,
            (404,),
            "b_buyer",
        ),
        case("catalog: B's product table", "GET", "/api/v1/vendor/products", a_product, (200,)),
        case("catalog: B's inventory", "GET", "/api/v1/inventory", a_product, (200,)),
        case("catalog: B's own browse", "GET", "/api/v1/products", a_product, (200,)),
        case("catalog: buyer browse (A hidden)", "GET", "/api/v1/products", a_product, (200,), "b_buyer"),
        case(
            "catalog: create (lands in B)",
            "POST",
            "/api/v1/vendor/products",
            a_product,
            (201,),
            body=lambda r: product_body(),
        ),
    ]
