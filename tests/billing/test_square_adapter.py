"""The real `square` adapter (official SDK) against the fake Square HTTP server."""

from __future__ import annotations

import re
from datetime import date

import pytest
from prometheus_client import REGISTRY

from packfinderz.billing.provider import (
    CustomerDetails,
    ProviderDeclined,
    ProviderNotFound,
    provider_for,
    provider_key,
)
from packfinderz.billing.square import SQUARE_VERSION, SquareProvider, redact
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.errors import DependencyError, IdempotencyKeyReused
from tests.billing.conftest import square_settings
from tests.fixtures.fake_square import FakeSquare
from tests.fixtures.processes import free_port

DETAILS = CustomerDetails(
    reference_id="pf:register:a-example-com:acme", email="a@example.com", company="Acme"
)


@pytest.fixture
def square(settings: Settings, db: Database, fake_square: FakeSquare) -> SquareProvider:
    provider = provider_for(square_settings(settings, fake_square), db)
    assert isinstance(provider, SquareProvider)
    return provider


def test_provider_keys_are_short_stable_and_scoped() -> None:
    key = provider_key("sub", "store-1:abc")
    assert re.fullmatch(r"sub-[0-9a-f]{32}", key)
    assert key == provider_key("sub", "store-1:abc") != provider_key("sub", "store-2:abc")
    assert len(provider_key("customer", "x" * 500)) <= 45


async def test_customer_is_found_by_reference_then_email_else_created(
    square: SquareProvider, fake_square: FakeSquare
) -> None:
    created = await square.ensure_customer(DETAILS, provider_key("customer", DETAILS.reference_id))
    assert created.created
    again = await square.ensure_customer(DETAILS, provider_key("customer", DETAILS.reference_id))
    assert (again.id, again.created) == (created.id, False)
    other_ref = CustomerDetails(reference_id="pf:other", email="a@example.com", company="Acme")
    by_email = await square.ensure_customer(other_ref, provider_key("customer", "pf:other"))
    assert (by_email.id, by_email.created) == (created.id, False)
    assert len(fake_square.customers) == 1
    create = fake_square.calls("POST /v2/customers")[-1]
    for call in fake_square.requests:
        assert call.headers["square-version"] == SQUARE_VERSION
        assert call.headers["authorization"] == "Bearer sq-test-token"
    assert any(
        c.body.get("reference_id") == DETAILS.reference_id for c in fake_square.calls("POST /v2/customers")
    )
    assert create.path.startswith("/v2/customers")


async def test_card_subscription_actions_and_payment(square: SquareProvider, fake_square: FakeSquare) -> None:
    customer = await square.ensure_customer(DETAILS, "customer-1")
    card = await square.create_card(customer.id, "cnon:ok", "card-1", cardholder_name="Pat")
    assert (card.card_brand, card.card_last4, card.card_exp_month) == ("MASTERCARD", "4444", 11)
    assert fake_square.calls("POST /v2/cards")[0].body["idempotency_key"] == "card-1"

    sub = await square.create_subscription(customer.id, card.id, "plan-var", "sub-1")
    assert sub["status"] == "ACTIVE"
    assert sub["actions"] == []
    assert fake_square.calls("POST /v2/subscriptions")[0].body["location_id"] == "LOC1"
    canceled = await square.cancel(sub["id"])
    assert [a["type"] for a in canceled["actions"]] == ["CANCEL"]
    fetched = await square.get_subscription(sub["id"])
    assert [a["type"] for a in fetched["actions"]] == ["CANCEL"]
    undone = await square.delete_action(sub["id"], fetched["actions"][0]["id"])
    assert undone["actions"] == []
    paused = await square.pause(sub["id"], date(2030, 1, 1))
    assert paused["actions"][0]["effective_date"] == "2030-01-01"
    resumed = await square.resume(sub["id"])
    assert resumed["status"] == "ACTIVE"

    payment = await square.create_payment(1234, customer.id, card.id, "usage-1", "usage-1-1")
    assert (payment.status, payment.amount_cents) == ("COMPLETED", 1234)
    again = await square.create_payment(1234, customer.id, card.id, "usage-1", "usage-1-1")
    assert again.id == payment.id
    assert len(fake_square.payments) == 1

    await square.disable_card(card.id)
    await square.disable_card("ccof_unknown")  # not found is fine
    assert fake_square.cards[card.id]["enabled"] is False


@pytest.mark.parametrize(
    ("mode", "error", "status"),
    [
        ("decline", ProviderDeclined, 422),
        ("bad_request", ProviderDeclined, 422),
        ("reused", IdempotencyKeyReused, 422),
        ("not_found", ProviderNotFound, 404),
        ("auth", DependencyError, 503),
        ("rate_limit", DependencyError, 503),
        ("server", DependencyError, 503),
    ],
)
async def test_error_mapping(
    square: SquareProvider, fake_square: FakeSquare, mode: str, error: type[Exception], status: int
) -> None:
    customer = await square.ensure_customer(DETAILS, "customer-1")
    fake_square.fail("POST /v2/cards", mode)
    with pytest.raises(error) as caught:
        await square.create_card(customer.id, "cnon:ok", "card-1")
    assert getattr(caught.value, "status", None) == status
    if mode == "decline":
        assert caught.value.details == {"provider_code": "CARD_DECLINED"}  # type: ignore[attr-defined]
    if status == 503:
        assert caught.value.details["dependency"] == "billing"  # type: ignore[attr-defined]
    # No SDK retries on 429/5xx: exactly one call reached Square.
    assert len(fake_square.calls("POST /v2/cards")) == 1


async def test_a_timeout_is_retried_once_with_the_same_key(
    settings: Settings, fake_square: FakeSquare
) -> None:
    square = SquareProvider(square_settings(settings, fake_square), timeout=0.3)
    fake_square.slow_seconds = 1.0
    customer = await square.ensure_customer(DETAILS, "customer-1")
    fake_square.fail("POST /v2/subscriptions", "timeout")
    sub = await square.create_subscription(customer.id, "ccof_x", "plan-var", "sub-key-1")
    calls = fake_square.calls("POST /v2/subscriptions")
    assert [c.body["idempotency_key"] for c in calls] == ["sub-key-1", "sub-key-1"]
    assert len(fake_square.subscriptions) == 1
    assert sub["id"] in fake_square.subscriptions

    fake_square.fail("POST /v2/subscriptions", "timeout", times=2)
    with pytest.raises(DependencyError):
        await square.create_subscription(customer.id, "ccof_x", "plan-var", "sub-key-2")


async def test_square_down_is_a_503(settings: Settings, fake_square: FakeSquare) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    square = SquareProvider(square_settings(settings, fake_square, square_base_url=closed))
    with pytest.raises(DependencyError) as caught:
        await square.ensure_customer(DETAILS, "customer-1")
    assert caught.value.details == {"dependency": "billing", "reason": "network"}


def test_redaction_hides_card_and_personal_fields() -> None:
    body = {
        "card": {"last_4": "1111"},
        "source_id": "cnon:x",
        "customer": {"email_address": "a@b.c", "id": "C1"},
    }
    assert redact(body) == {
        "card": "[redacted]",
        "source_id": "[redacted]",
        "customer": {"email_address": "[redacted]", "id": "C1"},
    }


async def test_provider_calls_are_counted_by_operation_and_result(
    square: SquareProvider, fake_square: FakeSquare
) -> None:
    def count(operation: str, result: str) -> float:
        value = REGISTRY.get_sample_value(
            "billing_provider_calls_total", {"operation": operation, "result": result}
        )
        return value or 0.0

    ok_before, declined_before = count("create_card", "ok"), count("create_card", "state_conflict")
    customer = await square.ensure_customer(DETAILS, "customer-1")
    await square.create_card(customer.id, "cnon:ok", "card-1")
    fake_square.fail("POST /v2/cards", "decline")
    with pytest.raises(ProviderDeclined):
        await square.create_card(customer.id, "cnon:ok", "card-2")
    assert count("create_card", "ok") == ok_before + 1
    assert count("create_card", "state_conflict") == declined_before + 1
