"""Billing rules with the sandbox provider: compensation paths, bad input, payment methods, plans,
pause/resume, subscription-reconcile and the override."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.billing.jobs import reconcile
from packfinderz.billing.provider import provider_for
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.billing.conftest import (
    action,
    add_card,
    card,
    create_plan,
    error,
    flag,
    rows,
    scalar,
    simulate,
    subscribe,
    table_counts,
)
from tests.fixtures.events import worker_env
from tests.fixtures.factories import idem, register_buyer, register_vendor
from tests.fixtures.processes import run


async def sandbox(db: Database, object_id: str) -> dict[str, Any]:
    data: dict[str, Any] = await scalar(
        db, "SELECT data FROM billing_sandbox_objects WHERE id = :id", id=object_id
    )
    return data


async def sandbox_counts(db: Database) -> dict[str, int]:
    found = await rows(db, "SELECT kind, count(*) AS n FROM billing_sandbox_objects GROUP BY kind")
    return {r["kind"]: int(r["n"]) for r in found}


# --- compensation -----------------------------------------------------------------------------------


async def test_subscription_db_failure_cancels_at_the_provider_and_leaves_no_row(
    client: httpx.AsyncClient, db: Database, plan: dict[str, Any], failing_insert: Any
) -> None:
    vendor = await register_vendor(client)
    await card(client, vendor)
    await failing_insert("subscriptions")
    response = await subscribe(client, vendor)
    assert response.status_code == 503, response.text
    assert error(response)["details"]["dependency"] == "database"
    assert await scalar(db, "SELECT count(*) FROM subscriptions") == 0
    assert not await flag(db, vendor.store_id)
    created = await rows(db, "SELECT data FROM billing_sandbox_objects WHERE kind = 'subscription'")
    assert len(created) == 1
    assert [a["type"] for a in created[0]["data"]["actions"]] == ["CANCEL"]  # will never renew
    assert await scalar(db, "SELECT count(*) FROM audit_logs WHERE action LIKE 'billing.subscription%'") == 0


async def test_card_db_failure_disables_the_card_and_leaves_no_row(
    client: httpx.AsyncClient, db: Database, failing_insert: Any
) -> None:
    vendor = await register_vendor(client)
    await failing_insert("payment_methods")
    response = await add_card(client, vendor)
    assert response.status_code == 503, response.text
    assert await scalar(db, "SELECT count(*) FROM payment_methods") == 0
    cards = await rows(db, "SELECT data FROM billing_sandbox_objects WHERE kind = 'card'")
    assert [c["data"]["enabled"] for c in cards] == [False]


# --- bad input ----------------------------------------------------------------------------------------


async def test_bad_inputs_answer_their_status_and_change_nothing(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], plan: dict[str, Any]
) -> None:
    vendor = await register_vendor(client)
    other = await register_vendor(client)
    foreign = await card(client, other)
    mine = await card(client, vendor)
    await create_plan(
        client, admin, id="old_v1", provider_plan_id="plan-var-old", status="deprecated", is_default=False
    )

    async def unchanged(response: httpx.Response, status: int, message: str | None = None) -> None:
        assert response.status_code == status, response.text
        if message:
            assert error(response)["message"] == message
        assert await table_counts(db) == before
        assert await sandbox_counts(db) == sandbox_before

    before, sandbox_before = await table_counts(db), await sandbox_counts(db)
    await unchanged(await subscribe(client, vendor, payment_method_id=foreign["id"]), 404)
    await unchanged(await subscribe(client, vendor, plan_id="old_v1"), 400)
    await unchanged(await subscribe(client, vendor, plan_id="no_such_plan"), 400)
    await unchanged(await subscribe(client, vendor, plan_id="Bad-Id"), 400)
    await unchanged(await subscribe(client, vendor, unknown=1), 400)
    await unchanged(await action(client, vendor, "pause"), 404)  # no live subscription
    await unchanged(await action(client, vendor, "resume"), 404)
    deleted = await client.delete(f"/api/v1/vendor/payment-methods/{foreign['id']}", headers=vendor.headers)
    await unchanged(deleted, 404)

    linked = await scalar(db, "SELECT billing_customer_id FROM stores WHERE id = :id", id=vendor.store_id)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE stores SET billing_customer_id = NULL WHERE id = :id"), {"id": vendor.store_id}
        )
    before = await table_counts(db)
    await unchanged(await subscribe(client, vendor), 422, "store is not linked to a billing customer")
    await unchanged(await add_card(client, vendor), 422, "store is not linked to a billing customer")
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE stores SET billing_customer_id = :c WHERE id = :id"),
            {"c": linked, "id": vendor.store_id},
        )

    sub = (await subscribe(client, vendor)).json()["data"]
    # Deleting the card backing the live subscription: 409, nothing changes.
    before, sandbox_before = await table_counts(db), await sandbox_counts(db)
    response = await client.delete(f"/api/v1/vendor/payment-methods/{mine['id']}", headers=vendor.headers)
    await unchanged(response, 409, "card in use by subscription")
    # A paused subscription refuses a new one.
    assert (await action(client, vendor, "pause")).status_code == 200
    await simulate(client, admin, sub["id"], "pause_effective")
    before, sandbox_before = await table_counts(db), await sandbox_counts(db)
    await unchanged(await subscribe(client, vendor), 409, "subscription is paused; resume it")
    await unchanged(await action(client, vendor, "pause"), 422)
    # Pause on a canceled row: the row is not live any more.
    assert (await action(client, vendor, "resume")).status_code == 200
    assert (await action(client, vendor, "cancel")).status_code == 200
    await simulate(client, admin, sub["id"], "cancel_effective")
    before, sandbox_before = await table_counts(db), await sandbox_counts(db)
    await unchanged(await action(client, vendor, "pause"), 404)
    cancel = await action(client, vendor, "cancel")
    assert (cancel.status_code, cancel.json()["data"]) == (200, None)


async def test_staff_cannot_write_billing_and_buyers_have_none(
    client: httpx.AsyncClient, db: Database, plan: dict[str, Any]
) -> None:
    vendor = await register_vendor(client)
    buyer = await register_buyer(client)
    assert (await add_card(client, buyer)).status_code == 403
    assert (await client.get("/api/v1/vendor/billing/plans", headers=buyer.headers)).status_code == 403
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE store_memberships SET role = 'staff' WHERE store_id = :s"), {"s": vendor.store_id}
        )
    before = await table_counts(db)
    for response in (
        await add_card(client, vendor),
        await subscribe(client, vendor),
        await action(client, vendor, "cancel"),
        await client.get("/api/v1/vendor/subscriptions", headers=vendor.headers),
    ):
        assert response.status_code == 403
        assert error(response)["message"] == "insufficient store role"
    assert await table_counts(db) == before
    assert (await client.get("/api/v1/vendor/billing/charges", headers=vendor.headers)).status_code == 200
    assert (await client.get("/api/v1/vendor/billing/plans", headers=vendor.headers)).status_code == 200
    bad = await client.get("/api/v1/vendor/billing/charges?status=bogus", headers=vendor.headers)
    assert bad.status_code == 400


# --- payment methods ----------------------------------------------------------------------------------


async def test_defaults_declines_and_the_newest_becomes_default(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await register_vendor(client)
    declined = await add_card(client, vendor, "sbx-decline-1")
    assert declined.status_code == 422
    assert error(declined)["message"] == "card declined"
    first = await card(client, vendor)
    second = await card(client, vendor, "cnon:second")
    third = await card(client, vendor, "cnon:third", is_default=True)
    assert (first["is_default"], second["is_default"], third["is_default"]) == (True, False, True)
    listed = (await client.get("/api/v1/vendor/payment-methods", headers=vendor.headers)).json()["data"]
    assert [(m["id"], m["is_default"]) for m in listed["items"]] == [
        (third["id"], True),
        (second["id"], False),
        (first["id"], False),
    ]
    assert "fingerprint" not in listed["items"][0]
    patched = await client.patch(
        f"/api/v1/vendor/payment-methods/{first['id']}", json={"is_default": True}, headers=vendor.headers
    )
    assert patched.json()["data"]["is_default"] is True
    assert (
        await scalar(
            db, "SELECT count(*) FROM payment_methods WHERE is_default AND store_id = :s", s=vendor.store_id
        )
        == 1
    )
    deleted = await client.delete(f"/api/v1/vendor/payment-methods/{first['id']}", headers=vendor.headers)
    assert deleted.status_code == 204
    defaults = await rows(
        db, "SELECT id FROM payment_methods WHERE is_default AND store_id = :s", s=vendor.store_id
    )
    assert [str(d["id"]) for d in defaults] == [third["id"]]  # the newest remaining
    removed = await rows(db, "SELECT payload FROM audit_logs WHERE action = 'billing.payment_method_removed'")
    assert removed[0]["payload"] == {"card_brand": "VISA", "card_last4": "1111", "is_default": True}
    # The same Idempotency-Key replays the first answer and stores one card.
    key = idem()
    one = await client.post(
        "/api/v1/vendor/payment-methods/cc", json={"source_id": "cnon:k"}, headers={**vendor.headers, **key}
    )
    two = await client.post(
        "/api/v1/vendor/payment-methods/cc", json={"source_id": "cnon:k"}, headers={**vendor.headers, **key}
    )
    assert one.json() == two.json()
    assert two.headers.get("Idempotent-Replayed") == "true"


# --- plans --------------------------------------------------------------------------------------------


async def test_plan_admin_and_vendor_reads(
    client: httpx.AsyncClient, admin: dict[str, str], db: Database
) -> None:
    vendor = await register_vendor(client)
    starter = await create_plan(client, admin)
    assert starter["price_amount"] == "49.99"
    pro = await create_plan(
        client, admin, id="pro_v1", name="Pro", provider_plan_id="plan-var-pro", is_default=True
    )
    assert pro["is_default"] is True
    assert await scalar(db, "SELECT count(*) FROM billing_plans WHERE is_default") == 1
    dup = await client.post(
        "/api/admin/v1/billing/plans", json={**starter, "price_amount": None}, headers=admin
    )
    assert dup.status_code == 400  # unknown field price_amount
    again = await client.post(
        "/api/admin/v1/billing/plans",
        json={k: v for k, v in starter.items() if k not in ("price_amount", "created_at", "updated_at")},
        headers=admin,
    )
    assert again.status_code == 409
    for bad in ({"price_amount_cents": -1}, {"interval": "WEEKLY"}, {"currency_code": "EUR"}, {"id": "A-b"}):
        response = await client.post(
            "/api/admin/v1/billing/plans", json={**_plan("x_v1"), **bad}, headers=admin
        )
        assert response.status_code == 400, bad
    await create_plan(
        client, admin, id="test_v1", name="Alpha", provider_plan_id="p-test", test=True, is_default=False
    )
    listed = (await client.get("/api/admin/v1/billing/plans?limit=2", headers=admin)).json()["data"]
    assert [p["id"] for p in listed["items"]] == ["pro_v1", "test_v1"]
    rest = (
        await client.get(f"/api/admin/v1/billing/plans?cursor={listed['next_cursor']}", headers=admin)
    ).json()
    assert [p["id"] for p in rest["data"]["items"]] == ["starter_v1"]
    assert rest["data"]["next_cursor"] is None
    assert (await client.delete("/api/admin/v1/billing/plans/pro_v1", headers=admin)).status_code == 204
    vendor_list = (await client.get("/api/v1/vendor/billing/plans", headers=vendor.headers)).json()["data"]
    assert [p["id"] for p in vendor_list["items"]] == ["test_v1", "starter_v1"]
    assert (
        await client.get("/api/v1/vendor/billing/plans/pro_v1", headers=vendor.headers)
    ).status_code == 404
    patched = await client.patch(
        "/api/admin/v1/billing/plans/starter_v1",
        json={**_plan(None, is_default=True), "provider_plan_id": "plan-var-starter", "name": "Starter+"},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["data"]["name"], patched.json()["data"]["is_default"]) == ("Starter+", True)
    assert (
        await client.patch("/api/admin/v1/billing/plans/nope", json=_plan(None), headers=admin)
    ).status_code == 404


def _plan(plan_id: str | None, **extra: Any) -> dict[str, Any]:
    """A plan body; without an id for PATCH."""
    body = {
        "name": "X",
        "status": "active",
        "provider_plan_id": f"pv-{plan_id or 'x'}",
        "interval": "ANNUAL",
        "price_amount_cents": 100,
        "currency_code": "USD",
        **extra,
    }
    if plan_id is not None:
        body["id"] = plan_id
    return body


# --- pause / resume / trial ---------------------------------------------------------------------------


async def test_pause_then_resume_and_uncancel(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], plan: dict[str, Any]
) -> None:
    vendor = await register_vendor(client)
    await card(client, vendor)
    sub = (await subscribe(client, vendor)).json()["data"]
    paused = (await action(client, vendor, "pause")).json()["data"]
    assert paused["status"] == "active"
    assert paused["pause_effective_at"] is not None
    assert (await action(client, vendor, "pause")).status_code == 200  # PAUSE pending: sync only
    resumed = (await action(client, vendor, "resume")).json()["data"]
    assert resumed["pause_effective_at"] is None
    await action(client, vendor, "pause")
    effective = await simulate(client, admin, sub["id"], "pause_effective")
    assert effective["status"] == "paused"
    assert effective["paused_at"] is not None
    assert not await flag(db, vendor.store_id)
    back = (await action(client, vendor, "resume")).json()["data"]
    assert back["status"] == "active"
    assert await flag(db, vendor.store_id)
    canceled = (await action(client, vendor, "cancel")).json()["data"]
    assert canceled["cancel_at_period_end"] is True
    assert (await action(client, vendor, "cancel")).status_code == 200  # CANCEL pending: sync only
    uncanceled = (await action(client, vendor, "resume")).json()["data"]
    assert uncanceled["cancel_at_period_end"] is False
    audit = await rows(
        db, "SELECT action, payload FROM audit_logs WHERE target_type = 'subscription' ORDER BY created_at"
    )
    assert audit[0]["payload"]["provider_subscription_id"] == sub["provider_subscription_id"]
    # An entitled live row answers 200 with it and calls no provider.
    again = await subscribe(client, vendor)
    assert (again.status_code, again.json()["data"]["id"]) == (200, sub["id"])


async def test_trial_plan_starts_trialing_and_is_entitled(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    await create_plan(client, admin, id="trial_v1", provider_plan_id="pv-trial", trial_days=14)
    vendor = await register_vendor(client)
    await card(client, vendor)
    sub = (await subscribe(client, vendor, plan_id="trial_v1")).json()["data"]
    assert sub["status"] == "trialing"
    assert await flag(db, vendor.store_id)


# --- reconcile ----------------------------------------------------------------------------------------


async def test_reconcile_syncs_repairs_drift_counts_and_respects_the_override(
    client: httpx.AsyncClient, db: Database, settings: Settings, admin: dict[str, str], plan: dict[str, Any]
) -> None:
    provider = provider_for(settings, db)
    synced_vendor = await register_vendor(client)
    await card(client, synced_vendor)
    sub = (await subscribe(client, synced_vendor)).json()["data"]
    drifted = await register_vendor(client)
    comped = await register_vendor(client)
    await client.patch(
        f"/api/admin/v1/stores/{comped.store_id}",
        json={"subscription_active": True, "reason": "partner"},
        headers=admin,
    )
    gone = await register_vendor(client)
    await card(client, gone)
    gone_sub = (await subscribe(client, gone)).json()["data"]

    # The provider canceled one subscription; another's provider object vanished; a flag drifted.
    async with db.transaction() as session:
        await session.execute(
            text(
                'UPDATE billing_sandbox_objects SET data = data || \'{"status": "CANCELED"}\' WHERE id = :id'
            ),
            {"id": sub["provider_subscription_id"]},
        )
        await session.execute(
            text("DELETE FROM billing_sandbox_objects WHERE id = :id"),
            {"id": gone_sub["provider_subscription_id"]},
        )
        await session.execute(
            text("UPDATE stores SET subscription_active = true WHERE id = :id"), {"id": drifted.store_id}
        )
        await session.execute(
            text("UPDATE stores SET subscription_active = false WHERE id = :id"), {"id": comped.store_id}
        )

    counts = await reconcile(db, provider, settings, datetime.now(UTC))
    assert counts == {"synced": 1, "flag_changed": 3, "not_found": 1, "failed": 0}
    assert await scalar(db, "SELECT status FROM subscriptions WHERE id = :id", id=sub["id"]) == "canceled"
    assert not await flag(db, synced_vendor.store_id)
    assert not await flag(db, drifted.store_id)
    assert await flag(db, comped.store_id)  # the override wins over reconcile
    assert await flag(db, gone.store_id)  # not found: left as it was


async def test_cron_run_subscription_reconcile(settings: Settings, redis: Redis) -> None:
    done = run(["cron", "run", "subscription-reconcile"], worker_env(settings))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["job"] == "subscription-reconcile"
    assert result["result"] == "success"
    assert result["counts"] == {"synced": 0, "flag_changed": 0, "not_found": 0, "failed": 0}


async def test_admin_customer_repair_links_the_store(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    vendor = await register_vendor(client)
    linked = await scalar(db, "SELECT billing_customer_id FROM stores WHERE id = :id", id=vendor.store_id)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE stores SET billing_customer_id = NULL WHERE id = :id"), {"id": vendor.store_id}
        )
    response = await client.post(
        "/api/admin/v1/billing/customers", json={"store_id": str(vendor.store_id)}, headers=admin
    )
    assert (response.status_code, response.json()["data"]) == (200, {"billing_customer_id": linked})
    missing = await client.post(
        "/api/admin/v1/billing/customers", json={"store_id": str(uuid.uuid4())}, headers=admin
    )
    assert missing.status_code == 404
    buyer_id = await scalar(db, "SELECT id FROM stores WHERE type = 'buyer' LIMIT 1")
    if buyer_id is not None:
        bad = await client.post(
            "/api/admin/v1/billing/customers", json={"store_id": str(buyer_id)}, headers=admin
        )
        assert bad.status_code == 400
