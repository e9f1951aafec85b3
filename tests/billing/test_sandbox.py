"""The sandbox provider's rules (money-ads-analytics.md §1.1), which every offline flow relies on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from packfinderz.billing.provider import CustomerDetails, ProviderDeclined, ProviderNotFound
from packfinderz.billing.sandbox import SandboxProvider, add_period, sandbox_id
from packfinderz.kit.db import Database


@pytest.fixture
def sandbox(db: Database) -> SandboxProvider:
    return SandboxProvider(db)


async def _plans(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO billing_plans (id, name, provider_plan_id, interval, price_amount_cents, "
                "trial_days) VALUES ('trial_v1', 'Trial', 'pv-trial', 'EVERY_30_DAYS', 1000, 14), "
                "('annual_v1', 'Annual', 'pv-annual', 'ANNUAL', 90000, 0)"
            )
        )


async def test_ids_are_deterministic_and_the_same_key_gives_the_same_object(sandbox: SandboxProvider) -> None:
    details = CustomerDetails(reference_id="pf:register:a:b", email="a@example.com", company="B")
    first = await sandbox.ensure_customer(details, "customer-x")
    assert first.id == sandbox_id("customer", "pf:register:a:b")
    assert first.id.startswith("sbx_customer_")
    assert len(first.id) == len("sbx_customer_") + 20
    assert (await sandbox.ensure_customer(details, "customer-x")).created is False
    by_email = await sandbox.ensure_customer(
        CustomerDetails(reference_id="pf:other", email="a@example.com", company="B"), "k"
    )
    assert (by_email.id, by_email.created) == (first.id, False)
    card = await sandbox.create_card(first.id, "cnon:ok", "card-key")
    again = await sandbox.create_card(first.id, "cnon:ok", "card-key")
    assert card == again
    assert (card.card_brand, card.card_last4, card.card_exp_month) == ("VISA", "1111", 12)
    assert card.card_exp_year == datetime.now(UTC).year + 3


async def test_declines_trials_periods_actions_and_payments(db: Database, sandbox: SandboxProvider) -> None:
    await _plans(db)
    customer = await sandbox.ensure_customer(CustomerDetails("ref", None, "C"), "c")
    with pytest.raises(ProviderDeclined) as declined:
        await sandbox.create_card(customer.id, "sbx-decline-now", "k1")
    assert (declined.value.status, declined.value.message) == (422, "card declined")
    with pytest.raises(ProviderNotFound):
        await sandbox.create_card("sbx_customer_missing", "cnon:ok", "k2")

    card = await sandbox.create_card(customer.id, "cnon:ok", "k3")
    today = datetime.now(UTC).date()
    trial = await sandbox.create_subscription(customer.id, card.id, "pv-trial", "s1")
    assert trial["status"] == "PENDING"
    assert trial["start_date"] == (today + timedelta(days=14)).isoformat()
    assert trial["charged_through_date"] == (today + timedelta(days=44)).isoformat()
    annual = await sandbox.create_subscription(customer.id, card.id, "pv-annual", "s2")
    assert annual["status"] == "ACTIVE"
    assert annual["charged_through_date"] == add_period(today, "ANNUAL").isoformat()
    assert add_period(date(2028, 2, 29), "ANNUAL") == date(2029, 2, 28)

    canceled = await sandbox.cancel(annual["id"])
    assert [(a["type"], a["effective_date"]) for a in canceled["actions"]] == [
        ("CANCEL", annual["charged_through_date"])
    ]
    with pytest.raises(ProviderDeclined):
        await sandbox.cancel(annual["id"])  # a duplicate pending action
    undone = await sandbox.delete_action(annual["id"], canceled["actions"][0]["id"])
    assert undone["actions"] == []
    with pytest.raises(ProviderDeclined):
        await sandbox.resume(annual["id"])  # not paused

    paid = await sandbox.create_payment(500, customer.id, card.id, "usage-1", "usage-1-1")
    assert (paid.status, paid.amount_cents) == ("COMPLETED", 500)
    assert (await sandbox.create_payment(500, customer.id, card.id, "usage-1", "usage-1-1")).id == paid.id
    failing = await sandbox.create_card(customer.id, "cnon:fail-payments", "k4")
    with pytest.raises(ProviderDeclined):
        await sandbox.create_payment(500, customer.id, failing.id, "usage-2", "usage-2-1")
    await sandbox.disable_card(card.id)
    with pytest.raises(ProviderDeclined):
        await sandbox.create_payment(500, customer.id, card.id, "usage-3", "usage-3-1")
    with pytest.raises(ProviderNotFound):
        await sandbox.get_subscription("sbx_subscription_missing")
