"""Tenancy matrix entries for the order routes (appended to tests/identity/test_tenancy.py).

Store A's buyer orders from store A's vendor; store B's buyer and vendor try every store-scoped order
route on that order and must get the spec's refusal (or a list without it), changing nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx

from tests.fixtures.catalog import create_product
from tests.fixtures.checkout import checkout, line, quote
from tests.fixtures.factories import make_vendor_visible, set_store_kyc
from tests.fixtures.orders import agent_post, new_agent, ok, post, ready_order, snapshot

if TYPE_CHECKING:
    from packfinderz.config import Settings
    from packfinderz.kit.db import Database
    from tests.identity.test_tenancy import TenancyCase, World


async def a_order(world: World) -> dict[str, Any]:
    """A pending order of A's buyer with A's vendor."""
    assert world.a_buyer.store_id is not None
    assert world.a_vendor.store_id is not None
    for buyer in (world.a_buyer, world.b_buyer):  # B is refused by tenancy, not by its KYC
        assert buyer.store_id is not None
        await set_store_kyc(world.db, buyer.store_id, "verified")
    await make_vendor_visible(world.db, world.a_vendor.store_id)
    product = await create_product(world.client, world.a_vendor)
    cart = await quote(world.client, world.a_buyer, line(product, 2))
    order = (await checkout(world.client, world.a_buyer, cart["id"]))["vendor_orders"][0]
    return {
        "id": uuid.UUID(order["order_id"]),
        "table": "vendor_orders",
        "order_id": order["order_id"],
        "line_id": order["items"][0]["line_item_id"],
        "vendor_id": str(world.a_vendor.store_id),
    }


def cases(case: type[TenancyCase]) -> list[TenancyCase]:
    """One entry per store-scoped order route."""
    reject_line = {"decision": "reject"}
    return [
        case("orders: A's order detail (vendor)", "GET", "/api/v1/orders/{order_id}", a_order, (403,)),
        case(
            "orders: A's order detail (buyer)", "GET", "/api/v1/orders/{order_id}", a_order, (403,), "b_buyer"
        ),
        case("orders: list (vendor)", "GET", "/api/v1/orders", a_order, (200,)),
        case("orders: list (buyer)", "GET", "/api/v1/orders", a_order, (200,), "b_buyer"),
        case(
            "orders: decide A's order",
            "POST",
            "/api/v1/vendor/orders/{order_id}/decision",
            a_order,
            (403,),
            body=lambda r: reject_line,
        ),
        case(
            "orders: decide A's line",
            "POST",
            "/api/v1/vendor/orders/{order_id}/line-items/decision",
            a_order,
            (403,),
            body=lambda r: {"line_item_id": r["line_id"], **reject_line},
        ),
        case(
            "orders: cancel A's order", "POST", "/api/v1/orders/{order_id}/cancel", a_order, (403,), "b_buyer"
        ),
        case(
            "orders: nudge A's vendor", "POST", "/api/v1/orders/{order_id}/nudge", a_order, (403,), "b_buyer"
        ),
        case(
            "orders: retry A's order", "POST", "/api/v1/orders/{order_id}/retry", a_order, (403,), "b_buyer"
        ),
        case(
            "orders: manifest of A's order",
            "POST",
            "/api/v1/vendor/orders/{order_id}/manifest",
            a_order,
            (403,),
        ),
        case(
            "orders: read A's manifest",
            "GET",
            "/api/v1/orders/{order_id}/manifest",
            a_order,
            (403,),
            "b_buyer",
        ),
        case(
            "orders: storefront history with A's vendor",
            "GET",
            "/api/v1/stores/{vendor_id}/orders",
            a_order,
            (200,),
            "b_buyer",
        ),
        case(
            "orders: storefront totals with A's vendor",
            "GET",
            "/api/v1/stores/{vendor_id}/orders/totals",
            a_order,
            (200,),
            "b_buyer",
        ),
    ]


async def agents_reach_only_their_own_orders(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    """Agent Y can neither see nor act on the order agent X holds."""
    x, y = await new_agent(client, db, settings), await new_agent(client, db, settings)
    held = await ready_order(client, db)
    mine = await ready_order(client, db)
    await ok(await agent_post(client, x, held.order_id, "claim"))
    await ok(await agent_post(client, y, mine.order_id, "claim"))
    before = await snapshot(db, held.order_id)

    listed = await ok(await client.get("/api/v1/agent/orders", headers=y.headers))
    assert [o["id"] for o in listed["items"]] == [mine.order_id]
    queue = await ok(await client.get("/api/v1/agent/orders/queue", headers=y.headers))
    assert queue["items"] == []
    for path in (f"/api/v1/agent/orders/{held.order_id}", f"/api/v1/agent/orders/{held.order_id}/manifest"):
        assert (await client.get(path, headers=y.headers)).status_code == 403, path
    for action in ("pickup", "deliver", "cash-collected"):
        assert (await agent_post(client, y, held.order_id, action)).status_code == 403, action
    assert (await agent_post(client, y, held.order_id, "claim")).status_code == 409
    assert (await post(client, f"/api/v1/orders/{held.order_id}/cancel", y.headers)).status_code == 403
    assert await snapshot(db, held.order_id) == before
