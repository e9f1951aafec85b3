"""The API with BILLING_PROVIDER=square against the fake Square server: registration, cards, subscribe,
and the Square webhook (signature, replay, concurrent duplicate, out of order, size, charges, override)."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from packfinderz.billing.webhook import dedupe_key, signature_of
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.logging import configure_logging
from tests.billing.conftest import PLAN, card, flag, rows, scalar, square_settings, subscribe
from tests.fixtures.factories import Account, idem, register_body, register_vendor
from tests.fixtures.fake_square import FakeSquare
from tests.fixtures.logs import LogCapture

WEBHOOK = "/api/v1/webhooks/square"
KEY = "whsec-test"
URL = "https://api.example.test/api/v1/webhooks/square"


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path, fake_square: FakeSquare) -> Settings:
    return square_settings(settings, fake_square).model_copy(update={"storage_local_dir": str(tmp_path)})


async def post_event(
    client: httpx.AsyncClient, event: dict[str, Any], *, signature: str | None = None
) -> httpx.Response:
    body = json.dumps(event).encode()
    sig = signature if signature is not None else signature_of(KEY, URL, body)
    return await client.post(
        WEBHOOK,
        content=body,
        headers={"x-square-hmacsha256-signature": sig, "content-type": "application/json"},
    )


def subscription_event(sub_id: str, *, status: str = "ACTIVE", event_id: str | None = None) -> dict[str, Any]:
    return {
        "merchant_id": "M1",
        "type": "subscription.updated",
        "event_id": event_id or str(uuid.uuid4()),
        "created_at": "2026-12-07T10:00:00Z",
        "data": {
            "type": "subscription",
            "id": sub_id,
            "object": {"subscription": {"id": sub_id, "status": status}},
        },
    }


def invoice_event(
    kind: str, invoice_id: str, sub_id: str, amount: int, event_id: str | None = None
) -> dict[str, Any]:
    return {
        "merchant_id": "M1",
        "type": kind,
        "event_id": event_id or str(uuid.uuid4()),
        "created_at": "2026-12-07T10:00:00Z",
        "data": {
            "type": "invoice",
            "id": invoice_id,
            "object": {
                "invoice": {
                    "id": invoice_id,
                    "subscription_id": sub_id,
                    "payment_requests": [{"computed_amount_money": {"amount": amount, "currency": "USD"}}],
                }
            },
        },
    }


async def subscribed_vendor(
    client: httpx.AsyncClient, admin: dict[str, str], fake: FakeSquare
) -> tuple[Account, dict[str, Any]]:
    response = await client.post("/api/admin/v1/billing/plans", json=PLAN, headers=admin)
    assert response.status_code in (201, 409), response.text
    vendor = await register_vendor(client)
    await card(client, vendor)
    created = await subscribe(client, vendor)
    assert created.status_code == 201, created.text
    return vendor, created.json()["data"]


async def test_registration_links_a_square_customer_and_rolls_back_when_square_is_down(
    client: httpx.AsyncClient, db: Database, fake_square: FakeSquare
) -> None:
    vendor = await register_vendor(client)
    customer_id = await scalar(
        db, "SELECT billing_customer_id FROM stores WHERE id = :id", id=vendor.store_id
    )
    assert customer_id in fake_square.customers
    assert fake_square.customers[customer_id]["reference_id"].startswith("pf:register:")

    fake_square.fail("POST /v2/customers/search", "server")
    body = register_body(store_type="vendor")
    response = await client.post("/api/v1/auth/register", json=body, headers=idem())
    assert response.status_code == 503, response.text
    assert response.json()["error"]["details"]["dependency"] == "billing"
    assert await scalar(db, "SELECT count(*) FROM users WHERE email = :e", e=body["email"]) == 0
    assert (
        await scalar(db, "SELECT count(*) FROM stores WHERE company_name = :c", c=body["company_name"]) == 0
    )


async def test_a_declined_card_is_a_422_with_the_provider_code_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, fake_square: FakeSquare
) -> None:
    vendor = await register_vendor(client)
    fake_square.fail("POST /v2/cards", "decline")
    response = await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:x"},
        headers={**vendor.headers, **idem()},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"provider_code": "CARD_DECLINED"}
    assert await scalar(db, "SELECT count(*) FROM payment_methods") == 0


async def test_bad_or_missing_signature_is_401_and_records_nothing(
    client: httpx.AsyncClient, redis: Redis, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    _vendor, sub = await subscribed_vendor(client, admin, fake_square)
    fake_square.subscriptions[sub["provider_subscription_id"]]["status"] = "CANCELED"
    event = subscription_event(sub["provider_subscription_id"], event_id="evt-bad-sig")
    for signature in (
        "",
        "bm90IHRoZSBzaWduYXR1cmU=",
        signature_of("other-key", URL, json.dumps(event).encode()),
    ):
        response = await post_event(client, event, signature=signature)
        assert response.status_code == 401
    assert await redis.get(dedupe_key("evt-bad-sig")) is None
    assert await scalar(db, "SELECT status FROM subscriptions WHERE id = :id", id=sub["id"]) == "active"


async def test_replay_has_one_effect_and_a_concurrent_duplicate_is_409(
    client: httpx.AsyncClient, redis: Redis, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    _vendor, sub = await subscribed_vendor(client, admin, fake_square)
    provider_id = sub["provider_subscription_id"]
    event = invoice_event("invoice.payment_made", "inv-1", provider_id, 4999, event_id="evt-1")
    gets_before = len(fake_square.calls(f"GET /v2/subscriptions/{provider_id}"))
    first = await post_event(client, event)
    assert (first.status_code, first.json()) == (200, {"data": None})
    second = await post_event(client, event)
    assert (second.status_code, second.json()) == (200, {"data": None})
    assert len(fake_square.calls(f"GET /v2/subscriptions/{provider_id}")) == gets_before + 1
    assert await rows(db, "SELECT status, amount_cents, type FROM charges") == [
        {"status": "succeeded", "amount_cents": 4999, "type": "subscription"}
    ]
    assert await redis.get(dedupe_key("evt-1")) in ("done", b"done")
    assert 0 < await redis.ttl(dedupe_key("evt-1")) <= 720 * 3600

    # Another delivery while the first is still processing: 409, Square retries later.
    await redis.set(dedupe_key("evt-2"), "processing", ex=300)
    busy = await post_event(client, subscription_event(provider_id, event_id="evt-2"))
    assert busy.status_code == 409


async def test_concurrent_deliveries_of_one_event_apply_once(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:

    _vendor, sub = await subscribed_vendor(client, admin, fake_square)
    event = invoice_event(
        "invoice.payment_made", "inv-c", sub["provider_subscription_id"], 4999, event_id="evt-c"
    )
    fake_square.slow_seconds = 0.5
    fake_square.fail(f"GET /v2/subscriptions/{sub['provider_subscription_id']}", "timeout")
    responses = await asyncio.gather(*(post_event(client, event) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}
    assert 409 in statuses
    assert await scalar(db, "SELECT count(*) FROM charges") == 1


async def test_out_of_order_events_converge_on_the_refetched_state(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    vendor, sub = await subscribed_vendor(client, admin, fake_square)
    provider_id = sub["provider_subscription_id"]
    fake_square.subscriptions[provider_id]["status"] = "CANCELED"
    fake_square.subscriptions[provider_id]["canceled_date"] = "2026-12-07"
    # The newer event (canceled) arrives first, then a stale "active" one: both re-fetch.
    assert (await post_event(client, subscription_event(provider_id, status="CANCELED"))).status_code == 200
    assert (await post_event(client, subscription_event(provider_id, status="ACTIVE"))).status_code == 200
    assert await scalar(db, "SELECT status FROM subscriptions WHERE id = :id", id=sub["id"]) == "canceled"
    assert not await flag(db, vendor.store_id)


async def test_charges_are_never_downgraded_and_failed_becomes_succeeded(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    vendor, sub = await subscribed_vendor(client, admin, fake_square)
    provider_id = sub["provider_subscription_id"]
    await post_event(client, invoice_event("invoice.scheduled_charge_failed", "inv-9", provider_id, 4999))
    assert await scalar(db, "SELECT status FROM charges WHERE provider_charge_id = 'inv-9'") == "failed"
    await post_event(client, invoice_event("invoice.payment_made", "inv-9", provider_id, 4999))
    assert await scalar(db, "SELECT status FROM charges WHERE provider_charge_id = 'inv-9'") == "succeeded"
    await post_event(client, invoice_event("invoice.scheduled_charge_failed", "inv-9", provider_id, 4999))
    assert await scalar(db, "SELECT status FROM charges WHERE provider_charge_id = 'inv-9'") == "succeeded"
    listed = await client.get("/api/v1/vendor/billing/charges?status=succeeded", headers=vendor.headers)
    assert [c["amount_cents"] for c in listed.json()["data"]["items"]] == [4999]


async def test_unknown_store_is_200_with_nothing_written(
    client: httpx.AsyncClient, fake_square: FakeSquare, db: Database
) -> None:
    fake_square.customers["CUST_X"] = {"id": "CUST_X"}
    fake_square.subscriptions["sub_orphan"] = {
        "id": "sub_orphan",
        "customer_id": "CUST_X",
        "status": "ACTIVE",
        "start_date": "2026-12-01",
        "charged_through_date": "2026-12-31",
        "actions": [],
    }
    response = await post_event(client, subscription_event("sub_orphan"))
    assert response.status_code == 200
    assert await scalar(db, "SELECT count(*) FROM subscriptions") == 0


async def test_a_failing_handler_answers_503_and_frees_the_event_for_a_retry(
    client: httpx.AsyncClient, redis: Redis, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    vendor, sub = await subscribed_vendor(client, admin, fake_square)
    provider_id = sub["provider_subscription_id"]
    fake_square.subscriptions[provider_id]["status"] = "PAUSED"
    fake_square.fail(f"GET /v2/subscriptions/{provider_id}", "server")
    event = subscription_event(provider_id, event_id="evt-retry")
    assert (await post_event(client, event)).status_code == 503
    assert await redis.get(dedupe_key("evt-retry")) is None
    assert (await post_event(client, event)).status_code == 200
    assert await scalar(db, "SELECT status FROM subscriptions WHERE id = :id", id=sub["id"]) == "paused"
    assert not await flag(db, vendor.store_id)


async def test_bodies_over_one_mebibyte_are_413_and_bad_json_400(client: httpx.AsyncClient) -> None:
    big = b'{"event_id": "x", "pad": "' + b"a" * (1024 * 1024) + b'"}'
    response = await client.post(
        WEBHOOK, content=big, headers={"x-square-hmacsha256-signature": signature_of(KEY, URL, big)}
    )
    assert response.status_code == 413
    for body in (b"not json", b'{"type": "subscription.updated"}'):
        response = await client.post(
            WEBHOOK, content=body, headers={"x-square-hmacsha256-signature": signature_of(KEY, URL, body)}
        )
        assert response.status_code == 400, body


async def test_the_override_wins_over_webhooks_and_clearing_it_returns_to_billing(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    vendor, sub = await subscribed_vendor(client, admin, fake_square)
    provider_id = sub["provider_subscription_id"]
    patch = await client.patch(
        f"/api/admin/v1/stores/{vendor.store_id}",
        json={"subscription_active": False, "reason": "chargeback review"},
        headers=admin,
    )
    assert patch.status_code == 200, patch.text
    assert not await flag(db, vendor.store_id)
    assert (await post_event(client, subscription_event(provider_id))).status_code == 200
    assert not await flag(db, vendor.store_id)  # entitled, but the override says no
    cleared = await client.patch(
        f"/api/admin/v1/stores/{vendor.store_id}",
        json={"subscription_active": None, "reason": "review done"},
        headers=admin,
    )
    assert cleared.json()["data"]["subscription_active"] is True  # billing's answer: entitled
    fake_square.subscriptions[provider_id]["status"] = "CANCELED"
    await client.patch(
        f"/api/admin/v1/stores/{vendor.store_id}",
        json={"subscription_active": True, "reason": "comped"},
        headers=admin,
    )
    assert (await post_event(client, subscription_event(provider_id))).status_code == 200
    assert await flag(db, vendor.store_id)  # canceled, but comped


async def test_a_failing_get_after_create_cancels_at_square_and_stores_nothing(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], db: Database
) -> None:
    await client.post("/api/admin/v1/billing/plans", json=PLAN, headers=admin)
    vendor = await register_vendor(client)
    await card(client, vendor)
    fake_square.fail("GET /v2/subscriptions/", "server")
    response = await subscribe(client, vendor)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["details"]["dependency"] == "billing"
    assert len(fake_square.subscriptions) == 1
    assert fake_square.live_subscriptions() == []  # the compensating cancel reached Square
    assert await scalar(db, "SELECT count(*) FROM subscriptions") == 0
    assert not await flag(db, vendor.store_id)


async def test_a_failing_database_write_cancels_at_square_and_disables_cards(
    client: httpx.AsyncClient,
    fake_square: FakeSquare,
    admin: dict[str, str],
    db: Database,
    failing_insert: Any,
) -> None:
    await client.post("/api/admin/v1/billing/plans", json=PLAN, headers=admin)
    vendor = await register_vendor(client)
    await card(client, vendor)
    await failing_insert("subscriptions")
    assert (await subscribe(client, vendor)).status_code == 503
    assert fake_square.live_subscriptions() == []
    assert await scalar(db, "SELECT count(*) FROM subscriptions") == 0
    await failing_insert("payment_methods")
    response = await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:y"},
        headers={**vendor.headers, **idem()},
    )
    assert response.status_code == 503
    assert [c["enabled"] for c in fake_square.cards.values()] == [True, False]  # the first card stays
    assert await scalar(db, "SELECT count(*) FROM payment_methods") == 1


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogCapture]:
    """Every log line (debug and up) of the test, in a buffer."""
    buffer = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", buffer)
        configure_logging(service="test", env="test", instance="test", level="debug")
    yield LogCapture(buffer)
    configure_logging(service="test", env="test", instance="test", level="warning")


async def test_logs_carry_no_card_data_tokens_or_emails(
    client: httpx.AsyncClient, fake_square: FakeSquare, admin: dict[str, str], logs: LogCapture
) -> None:
    await client.post("/api/admin/v1/billing/plans", json=PLAN, headers=admin)
    vendor = await register_vendor(client)
    source = "cnon:secret-nonce-7788"
    await card(client, vendor, source, verification_token="verf-token-5566")
    fake_square.fail("POST /v2/cards", "decline")
    await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": "cnon:declined-nonce-9911"},
        headers={**vendor.headers, **idem()},
    )
    assert (await subscribe(client, vendor)).status_code == 201
    calls = logs.events("billing.provider_call")
    assert {e["operation"] for e in calls} >= {"create_card", "create_subscription", "get_subscription"}
    for secret in (
        source,
        "verf-token-5566",
        "cnon:declined-nonce-9911",
        vendor.email,
        "sq-test-token",
        "4444",
    ):
        assert secret not in logs.text
