"""Cron `ad-daily-rollup` and `ad-usage-billing` (money-ads-analytics.md §2.8, §2.9): each day billed once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from packfinderz.ads.jobs import run_rollup, run_usage_billing
from packfinderz.billing.provider import CustomerDetails
from packfinderz.billing.sandbox import SandboxProvider
from packfinderz.config import Settings
from packfinderz.cron.scheduler import load_jobs, run_job
from packfinderz.kit.db import Database
from tests.ads.conftest import (
    ad_row,
    execute,
    impression,
    rows,
    scalar,
    serve,
    set_ad,
    vendor_at,
    verified_buyer,
)
from tests.fixtures.ads import create_ad
from tests.fixtures.factories import Account

YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


async def put_counters(
    redis: Redis, ad_id: Any, day: date, *, imps: int, clicks: int = 0, spend: int
) -> None:
    key = day.strftime("%Y%m%d")
    await redis.set(f"pf:ads:imps:{ad_id}:{key}", imps)
    await redis.set(f"pf:ads:clicks:{ad_id}:{key}", clicks)
    await redis.set(f"pf:ads:spend:{ad_id}:{key}", spend)


async def billable(
    db: Database, provider: SandboxProvider, vendor: Account, *, source: str = "cnon-ok"
) -> str:
    """Link the vendor to a sandbox customer with a default card made from `source`; the card id."""
    customer = await provider.ensure_customer(
        CustomerDetails(reference_id=f"pf:test:{vendor.store_id}", email=None, company="Vendor"), "cust"
    )
    await execute(
        db, "UPDATE stores SET billing_customer_id = :c WHERE id = :s", c=customer.id, s=vendor.store_id
    )
    return await add_card(db, provider, vendor, customer.id, source)


async def add_card(
    db: Database, provider: SandboxProvider, vendor: Account, customer_id: str, source: str
) -> str:
    """A new card that becomes the store's default."""
    card = await provider.create_card(customer_id, source, f"card-{uuid.uuid4()}")
    await execute(db, "UPDATE payment_methods SET is_default = false WHERE store_id = :s", s=vendor.store_id)
    await execute(
        db,
        "INSERT INTO payment_methods (store_id, provider_card_id, card_brand, card_last4, card_exp_month, "
        "card_exp_year, is_default) VALUES (:s, :c, 'VISA', '1111', 12, 2030, true)",
        s=vendor.store_id,
        c=card.id,
    )
    return card.id


async def sandbox_payments(db: Database) -> list[dict[str, Any]]:
    return await rows(
        db, "SELECT id, data->>'status' AS status FROM billing_sandbox_objects WHERE kind = 'payment'"
    )


async def rollup_events(db: Database) -> list[dict[str, Any]]:
    found = await rows(
        db, "SELECT payload FROM outbox_events WHERE event_type = 'ad_daily_rollup_ready' ORDER BY created_at"
    )
    return [r["payload"]["data"] for r in found]


async def test_rollup_and_billing_twice_bill_each_store_day_once(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    provider = SandboxProvider(db)
    vendor_a, vendor_b = await vendor_at(client, db), await vendor_at(client, db)
    await billable(db, provider, vendor_a)
    await billable(db, provider, vendor_b)
    await execute(
        db,
        "INSERT INTO subscriptions (store_id, provider_subscription_id, status) "
        "VALUES (:s, 'sbx_sub_a', 'active')",
        s=vendor_a.store_id,
    )
    a1 = await create_ad(client, vendor_a, bid_cents=250, daily_budget_cents=1000)
    a2 = await create_ad(client, vendor_a, bid_cents=333, daily_budget_cents=1000)
    b1 = await create_ad(client, vendor_b, bid_cents=500, daily_budget_cents=2)
    quiet = await create_ad(client, vendor_b)
    draft = await create_ad(client, vendor_b, status="draft")
    await put_counters(redis, a1["id"], YESTERDAY, imps=100, clicks=4, spend=25_000)  # 25 ¢
    await put_counters(redis, a2["id"], YESTERDAY, imps=3, spend=999)  # 0.999 ¢ → 1 ¢ half-up
    await put_counters(redis, b1["id"], YESTERDAY, imps=10, spend=5_000)  # 5 ¢, capped at the 2 ¢ budget
    await put_counters(redis, draft["id"], YESTERDAY, imps=9, spend=9_000)  # drafts are never rolled up
    now = datetime.now(UTC)
    first = await run_rollup(db, redis, YESTERDAY, now)
    second = await run_rollup(db, redis, YESTERDAY, now)
    assert first == {"rolled_up": 3, "events_emitted": 3, "usage_rows": 2, "ads_expired": 0}
    assert second == {"rolled_up": 0, "events_emitted": 0, "usage_rows": 0, "ads_expired": 0}
    rollups = {
        str(r["ad_id"]): r
        for r in await rows(db, "SELECT * FROM ad_daily_rollups WHERE day = :d", d=YESTERDAY)
    }
    assert set(rollups) == {a1["id"], a2["id"], b1["id"]}
    assert quiet["id"] not in rollups
    assert (rollups[a1["id"]]["impressions"], rollups[a1["id"]]["clicks"]) == (100, 4)
    assert (rollups[a1["id"]]["spend_millicents"], rollups[a1["id"]]["spend_cents"]) == (25_000, 25)
    assert rollups[a2["id"]]["spend_cents"] == 1
    assert (rollups[b1["id"]]["spend_millicents"], rollups[b1["id"]]["spend_cents"]) == (5_000, 2)
    events = await rollup_events(db)
    assert {(e["ad_id"], e["spend_cents"], e["impressions"]) for e in events} == {
        (a1["id"], 25, 100),
        (a2["id"], 1, 3),
        (b1["id"], 2, 10),
    }
    assert all(e["day"] == YESTERDAY.isoformat() for e in events)
    usage = {
        r["store_id"]: r
        for r in await rows(db, "SELECT * FROM usage_charges WHERE for_date = :d", d=YESTERDAY)
    }
    assert (usage[vendor_a.store_id]["quantity"], usage[vendor_a.store_id]["amount_cents"]) == (103, 26)
    assert (usage[vendor_b.store_id]["quantity"], usage[vendor_b.store_id]["amount_cents"]) == (10, 2)
    assert {r["status"] for r in usage.values()} == {"pending"}

    # A late impression before billing: the rollup and the still-pending usage row follow it.
    await put_counters(redis, a2["id"], YESTERDAY, imps=4, spend=1_332)
    late = await run_rollup(db, redis, YESTERDAY, now)
    assert (late["rolled_up"], late["events_emitted"], late["usage_rows"]) == (1, 1, 1)
    assert (
        await scalar(db, "SELECT quantity FROM usage_charges WHERE store_id = :s", s=vendor_a.store_id) == 104
    )

    today = datetime.now(UTC).date()
    assert await run_usage_billing(db, provider, today) == {"billed": 2, "failed": 0, "skipped": 0}
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 0, "skipped": 0}
    payments = await sandbox_payments(db)
    assert len(payments) == 2
    assert {p["status"] for p in payments} == {"COMPLETED"}
    charges = await rows(db, "SELECT * FROM charges ORDER BY amount_cents")
    assert [(c["type"], c["status"], c["amount_cents"]) for c in charges] == [
        ("ad_spend", "succeeded", 2),
        ("ad_spend", "succeeded", 26),
    ]
    assert {c["provider_charge_id"] for c in charges} == {p["id"] for p in payments}
    assert charges[0]["description"] == f"Ad spend {YESTERDAY.isoformat()}"
    billed = await rows(db, "SELECT status, attempt_count, charge_id, subscription_id FROM usage_charges")
    assert {(r["status"], r["attempt_count"]) for r in billed} == {("billed", 1)}
    # The live subscription of the store is linked on its usage row and charge (vendor B has none).
    subscription = await scalar(db, "SELECT id FROM subscriptions")
    assert sorted(str(r["subscription_id"]) for r in billed) == sorted([str(subscription), "None"])
    assert {c["subscription_id"] for c in charges} == {subscription, None}
    assert {r["charge_id"] for r in billed} == {c["id"] for c in charges}

    # After billing, a re-run may correct the rollup but never the billed day.
    await put_counters(redis, a1["id"], YESTERDAY, imps=200, spend=50_000)
    await run_rollup(db, redis, YESTERDAY, now)
    assert (
        await scalar(db, "SELECT spend_cents FROM ad_daily_rollups WHERE ad_id = :a", a=uuid.UUID(a1["id"]))
        == 50
    )
    assert (
        await scalar(db, "SELECT amount_cents FROM usage_charges WHERE store_id = :s", s=vendor_a.store_id)
        == 26
    )
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 0, "skipped": 0}
    assert len(await sandbox_payments(db)) == 2


async def test_failed_payment_pauses_ads_and_the_fixed_card_bills_once(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    provider = SandboxProvider(db)
    vendor = await vendor_at(client, db)
    await billable(db, provider, vendor, source="cnon-fail-payments")
    running = await create_ad(client, vendor, bid_cents=1000)
    paused = await create_ad(client, vendor)
    await client.patch(
        f"/api/v1/vendor/ads/{paused['id']}", json={"status": "paused"}, headers=vendor.headers
    )
    draft = await create_ad(client, vendor, status="draft")
    await put_counters(redis, running["id"], YESTERDAY, imps=50, spend=50_000)
    await run_rollup(db, redis, YESTERDAY, datetime.now(UTC))
    today = datetime.now(UTC).date()

    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 1, "skipped": 0}
    usage = (await rows(db, "SELECT * FROM usage_charges"))[0]
    assert (usage["status"], usage["attempt_count"], usage["amount_cents"]) == ("failed", 1, 50)
    assert "card declined" in usage["last_error"]
    assert (await ad_row(db, running["id"]))["status"] == "paused"
    assert (await ad_row(db, running["id"]))["paused_reason"] == "billing_failed"
    assert (await ad_row(db, paused["id"]))["paused_reason"] is None  # it was paused by the vendor
    assert (await ad_row(db, draft["id"]))["status"] == "draft"
    failed_charges = await rows(db, "SELECT status, failure_reason FROM charges")
    assert [c["status"] for c in failed_charges] == ["failed"]
    buyer = await verified_buyer(client, db)
    assert await serve(client, buyer) is None

    # The vendor fixes the card and re-activates; the next run bills the day once.
    customer = await scalar(db, "SELECT billing_customer_id FROM stores WHERE id = :s", s=vendor.store_id)
    await add_card(db, provider, vendor, customer, "cnon-good")
    again = await client.patch(
        f"/api/v1/vendor/ads/{running['id']}", json={"status": "active"}, headers=vendor.headers
    )
    assert again.json()["data"]["paused_reason"] is None
    assert await run_usage_billing(db, provider, today) == {"billed": 1, "failed": 0, "skipped": 0}
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 0, "skipped": 0}
    usage = (await rows(db, "SELECT * FROM usage_charges"))[0]
    assert (usage["status"], usage["attempt_count"], usage["last_error"]) == ("billed", 2, None)
    charges = await rows(db, "SELECT status, amount_cents, id FROM charges ORDER BY created_at")
    assert [(c["status"], c["amount_cents"]) for c in charges] == [("failed", 50), ("succeeded", 50)]
    assert usage["charge_id"] == charges[1]["id"]
    completed = [p for p in await sandbox_payments(db) if p["status"] == "COMPLETED"]
    assert len(completed) == 1
    assert (await ad_row(db, running["id"]))["status"] == "active"


async def test_three_attempts_then_left_for_follow_up_and_zero_days_skipped(
    client: httpx.AsyncClient, db: Database, redis: Redis
) -> None:
    provider = SandboxProvider(db)
    unlinked = await vendor_at(client, db)  # no billing customer (unlinked below), no card
    await execute(db, "UPDATE stores SET billing_customer_id = NULL WHERE id = :s", s=unlinked.store_id)
    ad = await create_ad(client, unlinked, bid_cents=100)
    tiny_vendor = await vendor_at(client, db)
    tiny = await create_ad(client, tiny_vendor, bid_cents=1)
    await put_counters(redis, ad["id"], YESTERDAY, imps=30, spend=3_000)
    await put_counters(redis, tiny["id"], YESTERDAY, imps=2, spend=2)  # 0.002 ¢ → 0 ¢
    await run_rollup(db, redis, YESTERDAY, datetime.now(UTC))
    today = datetime.now(UTC).date()
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 1, "skipped": 1}
    for _ in range(2):
        await set_ad(db, ad["id"], status="active", paused_reason=None)
        assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 1, "skipped": 0}
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 0, "skipped": 0}
    found = {r["store_id"]: r for r in await rows(db, "SELECT * FROM usage_charges")}
    assert (found[unlinked.store_id]["status"], found[unlinked.store_id]["attempt_count"]) == ("failed", 3)
    assert found[unlinked.store_id]["last_error"] == "store has no billing customer"
    assert found[tiny_vendor.store_id]["status"] == "skipped"
    assert (await ad_row(db, ad["id"]))["paused_reason"] == "billing_failed"
    assert await sandbox_payments(db) == []
    # Days older than a week are not picked up any more.
    await execute(
        db,
        "UPDATE usage_charges SET status = 'pending', attempt_count = 0, for_date = :d",
        d=today - timedelta(days=8),
    )
    assert await run_usage_billing(db, provider, today) == {"billed": 0, "failed": 0, "skipped": 0}


async def test_rollup_expires_ended_ads_and_counts_real_impressions(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    live = await create_ad(client, vendor, bid_cents=120)
    for _ in range(3):
        served = await serve(client, buyer)
        assert served is not None
        assert (await impression(client, buyer, served)).status_code == 200
    ended = await create_ad(client, vendor)
    paused_ended = await create_ad(client, vendor)
    draft_ended = await create_ad(client, vendor, status="draft")
    past = datetime.now(UTC) - timedelta(hours=2)
    for ad, status in ((ended, "active"), (paused_ended, "paused"), (draft_ended, "draft")):
        await set_ad(db, ad["id"], status=status, starts_at=past - timedelta(days=1), ends_at=past)
    today = datetime.now(UTC).date()
    # Through the scheduler's runner, as `packfinderz cron run ad-daily-rollup --day <today>` does.
    jobs = {spec.name: (spec, fn) for spec, fn in load_jobs()}
    spec, fn = jobs["ad-daily-rollup"]
    result = await run_job(spec, fn, settings=settings, db=db, redis=redis, day=today)
    assert result.result == "success", result
    assert result.counts == {"rolled_up": 1, "events_emitted": 1, "usage_rows": 1, "ads_expired": 2}
    rollup = (await rows(db, "SELECT * FROM ad_daily_rollups"))[0]
    assert (str(rollup["ad_id"]), rollup["day"], rollup["impressions"], rollup["spend_millicents"]) == (
        live["id"],
        today,
        3,
        360,
    )
    assert rollup["spend_cents"] == 0  # 0.36 ¢ rounds half-up to 0
    assert [(await ad_row(db, a["id"]))["status"] for a in (ended, paused_ended, draft_ended, live)] == [
        "expired",
        "expired",
        "draft",
        "active",
    ]
    spec, fn = jobs["ad-usage-billing"]
    billing = await run_job(spec, fn, settings=settings, db=db, redis=redis)
    assert billing.result == "success"
    assert billing.counts == {"billed": 0, "failed": 0, "skipped": 1}
