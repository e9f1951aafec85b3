"""`packfinderz analytics backfill`: rows rebuilt from orders, ledger and outbox ids are the consumer's
own rows (same event ids), re-running adds nothing, and after the outbox is gone the rebuilt warehouse
still gives the same dashboards, alone or next to the consumer's rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from typer.testing import CliRunner

from packfinderz.analytics.backfill import backfill
from packfinderz.cli import app as cli_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.logging import configure_logging
from packfinderz.kit.warehouse.postgres import PostgresWarehouse
from tests.analytics.conftest import deliver, deps_of, outbox, report, warehouse_rows
from tests.fixtures.factories import Account
from tests.fixtures.orders import agent_post, delivered, expire_order, new_admin, new_agent, ok, place, post


async def truncate(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("TRUNCATE analytics.marketplace_events, analytics.ad_events"))


def essentials(found: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (r["event_id"], r["event_type"], r["order_id"], r["vendor_store_id"], r["gross_revenue_cents"])
        for r in found
    }


async def test_backfill_rebuilds_the_consumers_rows(
    client: httpx.AsyncClient, db: Database, settings: Settings, redis: Redis
) -> None:
    agent = await new_agent(client, db, settings)
    admin = await new_admin(client, db, settings)
    paid = await delivered(client, db, agent)
    await ok(await agent_post(client, agent, paid.order_id, "cash-collected"))
    await ok(await post(client, f"/api/admin/v1/orders/{paid.order_id}/confirm-payout", admin))
    two = await place(client, db, ((2, 1), (1,)))
    await ok(await post(client, f"/api/v1/orders/{two.orders[1]['order_id']}/cancel", two.buyer.headers))
    lapsed = await place(client, db, ((1,),))
    await expire_order(db, lapsed.order_id)
    assert (
        await post(client, f"/api/v1/orders/{lapsed.order_id}/retry", lapsed.buyer.headers)
    ).status_code == 201

    # A fixed window holding every moment (the test ages the expired order 11 days back).
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(days=20)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
    envelopes = await outbox(db)
    await deliver(db, deps_of(settings, redis), envelopes)
    consumer_rows = await warehouse_rows(db)
    vendors: list[Account] = [paid.vendors[0], *two.vendors, lapsed.vendors[0]]
    dashboards = [await report(client, v.headers, **window) for v in vendors]
    assert sum(d["kpis"]["orders"] for d in dashboards) == 5

    warehouse = PostgresWarehouse("analytics")
    secret = settings.effective_ads_token_secret
    progress: list[int] = []
    counts = await backfill(db, warehouse, secret, progress=progress.append)
    assert counts["orders"] == sum(progress) == 5
    assert await warehouse_rows(db) == consumer_rows  # nothing new: same ids, DO NOTHING

    await truncate(db)
    await backfill(db, warehouse, secret)
    assert essentials(await warehouse_rows(db)) == essentials(consumer_rows)

    # The outbox is purged (retention) and the warehouse lost: rows get stand-in ids, same answers.
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM outbox_events"))
    await truncate(db)
    await backfill(db, warehouse, secret)
    rebuilt = await warehouse_rows(db)
    assert len(rebuilt) == len(consumer_rows)
    assert not {r["event_id"] for r in rebuilt} & {r["event_id"] for r in consumer_rows}

    def same(got: dict[str, Any], want: dict[str, Any]) -> None:
        assert (got["kpis"], got["top"]) == (want["kpis"], want["top"])

    for vendor, want in zip(vendors, dashboards, strict=True):
        same(await report(client, vendor.headers, **window), want)
    # …and next to a late redelivery of the original events, still nothing counts twice.
    await deliver(db, deps_of(settings, redis), envelopes)
    assert len(await warehouse_rows(db)) == 2 * len(consumer_rows)
    for vendor, want in zip(vendors, dashboards, strict=True):
        same(await report(client, vendor.headers, **window), want)


def test_backfill_command(settings: Settings) -> None:
    assert settings.database_url is not None
    env = {"PACKFINDERZ_APP_ENV": "test", "PACKFINDERZ_DB_DSN": settings.database_url}
    runner = CliRunner()
    try:
        done = runner.invoke(cli_app, ["analytics", "backfill", "--since", "2026-01-01"], env=env)
        bad = runner.invoke(cli_app, ["analytics", "backfill", "--since", "January"], env=env)
    finally:  # the command pointed logging at the runner's (now closed) output
        configure_logging(service="test", env="test", instance="test", level="warning")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output.strip().splitlines()[-1]) == {
        "orders": 0,
        "marketplace_rows": 0,
        "ad_rows": 0,
    }
    assert bad.exit_code == 2
