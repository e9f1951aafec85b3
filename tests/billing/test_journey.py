"""The vendor journey end to end through the HTTP API with the sandbox provider (issue #13)."""

from __future__ import annotations

from typing import Any

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.billing.conftest import action, card, flag, rows, simulate, subscribe
from tests.fixtures.catalog import buyer_at, create_product
from tests.fixtures.compliance import decide, submit_license
from tests.fixtures.factories import register_vendor


async def _visible(client: httpx.AsyncClient, buyer: Any, product_id: str) -> bool:
    response = await client.get("/api/v1/products", headers=buyer.headers)
    assert response.status_code == 200, response.text
    return product_id in [item["id"] for item in response.json()["data"]["items"]]


async def test_register_verify_card_subscribe_fail_fix_cancel(
    client: httpx.AsyncClient, db: Database, settings: Settings, admin: dict[str, str], plan: dict[str, Any]
) -> None:
    vendor = await register_vendor(client)
    store = (await rows(db, "SELECT billing_customer_id FROM stores WHERE id = :id", id=vendor.store_id))[0]
    assert str(store["billing_customer_id"]).startswith("sbx_customer_")

    license_ = await submit_license(client, vendor)
    assert (await decide(client, admin, license_["id"], "verified")).status_code == 200
    product = await create_product(client, vendor)
    buyer = await buyer_at(client)
    assert not await _visible(client, buyer, product["id"])  # verified but not subscribed

    method = await card(client, vendor, cardholder_name="Pat Doe")
    assert (method["card_brand"], method["card_last4"], method["is_default"]) == ("VISA", "1111", True)
    response = await subscribe(client, vendor)
    assert response.status_code == 201, response.text
    sub = response.json()["data"]
    assert (sub["status"], sub["billing_plan_id"], sub["cancel_at_period_end"]) == (
        "active",
        "starter_v1",
        False,
    )
    assert await flag(db, vendor.store_id)
    assert await _visible(client, buyer, product["id"])

    # A failed renewal: past due (still visible), then past the grace days: unpaid and hidden.
    failed = await simulate(client, admin, sub["id"], "payment_failed")
    assert failed["status"] == "past_due"
    assert await _visible(client, buyer, product["id"])
    charges = await rows(
        db, "SELECT status, amount_cents, type FROM charges WHERE store_id = :s", s=vendor.store_id
    )
    assert charges == [{"status": "failed", "amount_cents": 4999, "type": "subscription"}]
    await _grace_passes(db, sub["provider_subscription_id"], settings.billing_past_due_grace_days + 1)
    current = (await client.get("/api/v1/vendor/subscriptions", headers=vendor.headers)).json()["data"]
    assert current["status"] == "unpaid"
    assert not await flag(db, vendor.store_id)
    assert not await _visible(client, buyer, product["id"])

    # The vendor fixes the card and resumes; the retried invoice is paid: visible again.
    await card(client, vendor, "cnon:new-card", is_default=True)
    assert (await action(client, vendor, "resume")).status_code == 200
    renewed = await simulate(client, admin, sub["id"], "renew")
    assert renewed["status"] == "active"
    assert await _visible(client, buyer, product["id"])
    listed = await client.get("/api/v1/vendor/billing/charges", headers=vendor.headers)
    assert [(c["status"], c["type"]) for c in listed.json()["data"]["items"]] == [
        ("succeeded", "subscription"),
        ("failed", "subscription"),
    ]

    # Cancel: visible until the period ends, then hidden.
    canceled = await action(client, vendor, "cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["data"]["cancel_at_period_end"] is True
    assert canceled.json()["data"]["status"] == "active"
    assert await _visible(client, buyer, product["id"])
    ended = await simulate(client, admin, sub["id"], "cancel_effective")
    assert ended["status"] == "canceled"
    assert not await flag(db, vendor.store_id)
    assert not await _visible(client, buyer, product["id"])
    assert (await client.get("/api/v1/vendor/subscriptions", headers=vendor.headers)).json()["data"] is None

    # Re-subscribing after the cancel creates a new row; the old one stays as history.
    again = await subscribe(client, vendor)
    assert again.status_code == 201, again.text
    assert again.json()["data"]["id"] != sub["id"]
    assert await _visible(client, buyer, product["id"])
    history = await rows(
        db, "SELECT status FROM subscriptions WHERE store_id = :s ORDER BY created_at", s=vendor.store_id
    )
    assert [h["status"] for h in history] == ["canceled", "active"]
    actions = await rows(
        db,
        "SELECT action FROM audit_logs WHERE action LIKE 'billing.%' AND actor_store_id = :s "
        "ORDER BY created_at",
        s=vendor.store_id,
    )
    assert [a["action"] for a in actions] == [
        "billing.payment_method_added",
        "billing.subscription_created",
        "billing.payment_method_added",
        "billing.subscription_canceled",
        "billing.subscription_created",
    ]


async def _grace_passes(db: Database, provider_id: str, days: int) -> None:
    """Move the sandbox subscription's paid-through date back: the grace days have passed."""
    async with db.transaction() as session:
        from sqlalchemy import text

        await session.execute(
            text(
                "UPDATE billing_sandbox_objects SET data = jsonb_set(data, '{charged_through_date}', "
                "to_jsonb((current_date - CAST(:days AS int))::text)) WHERE id = :id"
            ),
            {"days": days, "id": provider_id},
        )
