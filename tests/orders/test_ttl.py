"""Cron job `order-ttl` (commerce.md §8.7): one automatic nudge after 5 days, expiry after 10."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.cron.scheduler import JOBS, JobContext, load_jobs
from packfinderz.kit.db import Database
from packfinderz.orders import jobs
from packfinderz.orders.jobs import run_ttl
from tests.fixtures.db import audits, events, rows, stock
from tests.fixtures.orders import age, decide, intent_row, ok, order_row, place


def test_registered_as_the_order_ttl_job() -> None:
    assert "order-ttl" in [spec.name for spec, _ in load_jobs()]
    assert JOBS["order-ttl"] is jobs.order_ttl


async def test_nudges_once_after_five_days(client: httpx.AsyncClient, db: Database) -> None:
    fresh = await place(client, db)
    slow = await place(client, db)
    await age(db, fresh.order_id, 4.9)
    await age(db, slow.order_id, 5.1)
    assert await run_ttl(db, datetime.now(UTC)) == {"nudged": 1, "expired": 0, "skipped": 0, "failed": 0}
    [nudge] = await events(db, "order_pending_nudge")
    assert nudge == {
        "order_id": slow.order_id,
        "checkout_group_id": slow.result["checkout_group_id"],
        "buyer_store_id": str(slow.buyer.store_id),
        "vendor_store_id": str(slow.vendors[0].store_id),
        "pending_days": 5,
    }
    [row] = await rows(
        db, "SELECT dedupe_key, payload FROM outbox_events WHERE event_type = 'order_pending_nudge'"
    )
    assert row["dedupe_key"] == f"order_pending_nudge:{slow.order_id}"
    assert row["payload"]["actor"] is None
    assert await run_ttl(db, datetime.now(UTC)) == {"nudged": 0, "expired": 0, "skipped": 0, "failed": 0}
    assert len(await events(db, "order_pending_nudge")) == 1
    assert (await order_row(db, slow.order_id))["status"] == "created_pending"


async def test_expires_after_ten_days_releasing_stock(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3, 2),))
    accepted = await place(client, db)
    await ok(await decide(client, accepted.vendors[0], accepted.order_id, "accept"))
    for order_id in (placed.order_id, accepted.order_id):
        await age(db, order_id, 10.5)
    moment = datetime.now(UTC)
    counts = await run_ttl(db, moment)
    assert counts == {"nudged": 0, "expired": 1, "skipped": 0, "failed": 0}

    order = await order_row(db, placed.order_id)
    assert (order["status"], order["expired_at"], order["balance_due_cents"], order["total_cents"]) == (
        "expired",
        moment,
        0,
        0,
    )
    assert (await intent_row(db, placed.order_id) or {})["amount_cents"] == 0
    lines = await rows(
        db, "SELECT status, notes FROM order_line_items WHERE order_id = :id", id=uuid.UUID(placed.order_id)
    )
    assert lines == [{"status": "rejected", "notes": "order_expired"}] * 2
    for product in placed.products[0]:
        assert await stock(db, product["id"]) == (100, 0)
    [expired] = await events(db, "order_expired")
    assert (expired["order_id"], expired["ttl_days"]) == (placed.order_id, 10)
    [audit] = await audits(db, "order.expired")
    assert (audit["actor_role"], audit["actor_user_id"], audit["payload"]) == (
        "system",
        None,
        {"released_lines": 2},
    )
    assert (await order_row(db, accepted.order_id))["status"] == "accepted"  # only pending orders expire
    assert await events(db, "order_pending_nudge") == []  # past both limits: expired, not nudged


async def test_the_scheduled_job_runs_as_of_now(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    placed = await place(client, db)
    await age(db, placed.order_id, 12)
    counts = await jobs.order_ttl(JobContext(settings, db, redis, run_id="test"))
    assert counts["expired"] == 1
    assert (await order_row(db, placed.order_id))["status"] == "expired"
