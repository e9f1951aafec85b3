"""Tenancy matrix entries for the billing routes (appended to tests/identity/test_tenancy.py).

Store A's vendor has a card, a subscription and a charge; store B's vendor tries every store-scoped
billing route on them and must get the spec's refusal (or its own empty answer), changing nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from tests.fixtures.factories import idem

if TYPE_CHECKING:
    from tests.identity.test_tenancy import TenancyCase, World


async def _plan(world: World) -> None:
    async with world.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO billing_plans (id, name, provider_plan_id, interval, price_amount_cents, "
                "is_default) VALUES ('tenancy_v1', 'T', 'pv-tenancy', 'EVERY_30_DAYS', 100, true) "
                "ON CONFLICT DO NOTHING"
            )
        )


async def a_card(world: World) -> dict[str, Any]:
    """A card of A's vendor (default)."""
    response = await world.client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:a"},
        headers={**world.a_vendor.headers, **idem()},
    )
    assert response.status_code == 201, response.text
    card_id = response.json()["data"]["id"]
    return {"id": uuid.UUID(card_id), "table": "payment_methods", "method_id": card_id}


async def a_subscription(world: World) -> dict[str, Any]:
    """A's vendor subscribed (sandbox), with a charge row."""
    await _plan(world)
    card = await a_card(world)
    response = await world.client.post(
        "/api/v1/vendor/subscriptions", json={}, headers={**world.a_vendor.headers, **idem()}
    )
    assert response.status_code == 201, response.text
    sub = response.json()["data"]
    return {"id": uuid.UUID(sub["id"]), "table": "subscriptions", "method_id": card["method_id"]}


async def a_charge(world: World) -> dict[str, Any]:
    """A charge of A's vendor."""
    charge_id = uuid.uuid4()
    async with world.db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO charges (id, store_id, type, provider_charge_id, amount_cents, status) "
                "VALUES (:id, :store, 'subscription', :pid, 4999, 'succeeded')"
            ),
            {"id": charge_id, "store": world.a_vendor.store_id, "pid": f"inv-{charge_id}"},
        )
    return {"id": charge_id, "table": "charges"}


def cases(case: type[TenancyCase]) -> list[TenancyCase]:
    """One entry per store-scoped billing route."""
    return [
        case("billing: A's card list", "GET", "/api/v1/vendor/payment-methods", a_card, (200,)),
        case(
            "billing: make A's card default",
            "PATCH",
            "/api/v1/vendor/payment-methods/{method_id}",
            a_card,
            (404,),
            body=lambda r: {"is_default": False},
        ),
        case(
            "billing: delete A's card", "DELETE", "/api/v1/vendor/payment-methods/{method_id}", a_card, (404,)
        ),
        case(
            "billing: subscribe with A's card",
            "POST",
            "/api/v1/vendor/subscriptions",
            a_subscription,
            (404,),
            body=lambda r: {"payment_method_id": r["method_id"]},
        ),
        case(
            "billing: subscription (own: none)", "GET", "/api/v1/vendor/subscriptions", a_subscription, (200,)
        ),
        case(
            "billing: cancel (own: none)",
            "POST",
            "/api/v1/vendor/subscriptions/cancel",
            a_subscription,
            (200,),
        ),
        case(
            "billing: pause (own: none)", "POST", "/api/v1/vendor/subscriptions/pause", a_subscription, (404,)
        ),
        case(
            "billing: resume (own: none)",
            "POST",
            "/api/v1/vendor/subscriptions/resume",
            a_subscription,
            (404,),
        ),
        case("billing: charges list", "GET", "/api/v1/vendor/billing/charges", a_charge, (200,)),
        case("billing: card as a buyer", "GET", "/api/v1/vendor/payment-methods", a_card, (403,), "b_buyer"),
    ]
