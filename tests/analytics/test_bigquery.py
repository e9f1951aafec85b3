"""The bigquery warehouse: the real google-cloud-bigquery client against our fake BigQuery server.

Inserts carry `insertId` = the row's event id; retryable failures (HTTP 5xx, retryable row reasons) are
retried with backoff up to 3 attempts; a non-retryable failure is not retried; queries dedupe with
QUALIFY; any query failure is a 503 naming the warehouse; readiness reads table metadata."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from redis.asyncio import Redis

from packfinderz.analytics import rows
from packfinderz.analytics.consumers import handle
from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.events.consumer import Event
from packfinderz.events.registry import (
    AdDailyRollupReady,
    CashCollected,
    CheckoutConverted,
    EventPayload,
    OrderCanceled,
)
from packfinderz.kit.db import Database
from packfinderz.kit.warehouse import WarehouseError
from tests.analytics.conftest import deps_of
from tests.fixtures.catalog import vendor_at
from tests.fixtures.fake_bigquery import FakeBigQuery, FakeBigQueryServer, error_body

PROJECT = "pf-test"


@pytest.fixture
def fake() -> Iterator[FakeBigQuery]:
    server = FakeBigQueryServer()
    server.state.tables.update({"marketplace_events", "ad_events"})
    yield server.state
    server.stop()


@pytest.fixture
def bq_settings(app_settings: Settings, fake: FakeBigQuery) -> Settings:
    return app_settings.model_copy(
        update={"warehouse_adapter": "bigquery", "gcp_project_id": PROJECT, "bigquery_api_endpoint": fake.url}
    )


@pytest.fixture
async def bq_client(bq_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(bq_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def event_of(data: EventPayload) -> Event:
    return Event(uuid.uuid4(), data.event_type, datetime.now(UTC), None, None, data)


async def run(db: Database, settings: Settings, redis: Redis, event: Event) -> None:
    async with db.transaction() as session:
        await handle(session, event, deps_of(settings, redis))


def ids() -> dict[str, uuid.UUID]:
    return {k: uuid.uuid4() for k in ("order_id", "checkout_group_id", "buyer_store_id", "vendor_store_id")}


async def test_inserts_carry_the_event_id_as_insert_id(
    db: Database, bq_settings: Settings, redis: Redis, fake: FakeBigQuery
) -> None:
    order = ids()
    moment = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    collected = event_of(
        CashCollected(
            order_id=order["order_id"],
            buyer_store_id=order["buyer_store_id"],
            vendor_store_id=order["vendor_store_id"],
            amount_cents=4200,
            cash_collected_at=moment,
        )
    )
    canceled = event_of(OrderCanceled(**order, canceled_at=moment))
    checkout = event_of(
        CheckoutConverted(
            checkout_group_id=order["checkout_group_id"],
            buyer_store_id=order["buyer_store_id"],
            vendor_order_ids=[order["order_id"]],
            vendor_store_ids=[order["vendor_store_id"]],
            converted_at=moment,
            analytics={
                "shipping_address": {"postal_code": "73102", "lat": 35.4, "lng": -97.5},
                "vendor_orders": [
                    {
                        "order_id": str(order["order_id"]),
                        "vendor_store_id": str(order["vendor_store_id"]),
                        "status": "created_pending",
                        "total_cents": 4200,
                    }
                ],
                "items": [
                    {
                        "order_id": str(order["order_id"]),
                        "product_id": str(uuid.uuid4()),
                        "name": "Widget",
                        "category": "flower",
                        "qty": 2,
                        "line_subtotal_cents": 4400,
                        "discount_cents": 200,
                        "line_total_cents": 4200,
                        "status": "pending",
                    }
                ],
            },
        )
    )
    ad_id = uuid.uuid4()
    rollup = event_of(
        AdDailyRollupReady(
            ad_id=ad_id,
            vendor_store_id=order["vendor_store_id"],
            day=date(2026, 11, 19),
            impressions=1000,
            clicks=12,
            spend_cents=300,
        )
    )
    for event in (collected, canceled, checkout, rollup, collected):  # the last one is a redelivery
        await run(db, bq_settings, redis, event)
    inserts = fake.inserts("marketplace_events")
    assert [[r["insertId"] for r in body["rows"]] for body in inserts] == [
        [str(collected.event_id)],
        [str(canceled.event_id)],
        [str(rows.order_event_id(checkout.event_id, order["order_id"]))],
        [str(collected.event_id)],
    ]
    stored = fake.rows["marketplace_events"]
    assert len(stored) == 3  # the redelivered row was deduped on insertId
    revenue = stored[str(collected.event_id)]
    assert (revenue["event_type"], revenue["gross_revenue_cents"], revenue["net_revenue_cents"]) == (
        "cash_collected",
        4200,
        4200,
    )
    assert datetime.fromisoformat(revenue["occurred_at"]) == moment
    created = stored[str(rows.order_event_id(checkout.event_id, order["order_id"]))]
    assert (created["subtotal_cents"], created["discounts_cents"], created["buyer_zip"]) == (
        4400,
        200,
        "73102",
    )
    [charge] = [r for body in fake.inserts("ad_events") for r in body["rows"]]
    assert charge["insertId"] == str(rows.charge_event_id(ad_id, date(2026, 11, 19)))
    assert (charge["json"]["type"], charge["json"]["cost_cents"]) == ("charge", 300)
    assert datetime.fromisoformat(charge["json"]["occurred_at"]) == datetime.combine(
        date(2026, 11, 19), time.max, UTC
    )


async def test_retryable_failures_retry_then_succeed(
    db: Database, bq_settings: Settings, redis: Redis, fake: FakeBigQuery
) -> None:
    fake.insert_failures.append((503, error_body(503, "backendError")))
    fake.row_failures.append([(0, "backendError")])
    order = ids()
    event = event_of(OrderCanceled(**order, canceled_at=datetime.now(UTC)))
    await run(db, bq_settings, redis, event)
    attempts = fake.inserts("marketplace_events")
    assert len(attempts) == 3
    assert {r["insertId"] for body in attempts for r in body["rows"]} == {str(event.event_id)}
    assert list(fake.rows["marketplace_events"]) == [str(event.event_id)]


async def test_retries_stop_after_three_attempts(
    db: Database, bq_settings: Settings, redis: Redis, fake: FakeBigQuery
) -> None:
    fake.insert_failures.extend([(429, error_body(429, "rateLimitExceeded"))] * 3)
    event = event_of(OrderCanceled(**ids(), canceled_at=datetime.now(UTC)))
    with pytest.raises(WarehouseError) as raised:
        await run(db, bq_settings, redis, event)
    assert raised.value.retryable  # the consumer nacks: redelivery tries again later
    assert len(fake.inserts("marketplace_events")) == 3
    assert "marketplace_events" not in fake.rows


@pytest.mark.parametrize(
    "failure",
    [("http", 400, "invalid"), ("row", 0, "invalid"), ("http", 403, "accessDenied")],
)
async def test_non_retryable_failures_are_not_retried(
    db: Database, bq_settings: Settings, redis: Redis, fake: FakeBigQuery, failure: tuple[str, int, str]
) -> None:
    kind, status, reason = failure
    if kind == "http":
        fake.insert_failures.append((status, error_body(status, reason)))
    else:
        fake.row_failures.append([(status, reason)])
    event = event_of(OrderCanceled(**ids(), canceled_at=datetime.now(UTC)))
    with pytest.raises(WarehouseError) as raised:
        await run(db, bq_settings, redis, event)
    assert not raised.value.retryable
    assert len(fake.inserts("marketplace_events")) == 1


def micros(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1_000_000))


async def test_the_dashboard_reads_bigquery_with_qualify(
    bq_client: httpx.AsyncClient, db: Database, fake: FakeBigQuery
) -> None:
    vendor = await vendor_at(bq_client, db)
    today = datetime.now(ZoneInfo("America/Chicago")).date()
    midnight = datetime.combine(today, time(), ZoneInfo("America/Chicago"))
    fields = [
        {"name": "part", "type": "STRING"},
        {"name": "bucket", "type": "TIMESTAMP"},
        {"name": "id", "type": "STRING"},
        {"name": "label", "type": "STRING"},
        {"name": "a", "type": "INTEGER"},
        {"name": "b", "type": "INTEGER"},
        {"name": "c", "type": "INTEGER"},
    ]

    def row(*values: Any) -> dict[str, Any]:
        return {"f": [{"v": v} for v in values]}

    fake.query_result = {
        "schema": {"fields": fields},
        "rows": [
            row("created", micros(midnight), None, None, "2", "150", None),
            row("revenue", micros(midnight), None, None, "1", "5001", "5001"),
            row("terminated", None, None, None, "1", None, None),
            row("customers", None, None, None, "1", "0", None),
            row("top_products", None, "p-1", "Widget", "700", None, None),
        ],
    }
    response = await bq_client.get(
        "/api/v1/vendor/analytics", params={"preset": "7d"}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["kpis"] == {
        "orders": 2,
        "terminated_orders": 1,
        "gross_revenue_cents": 5001,
        "net_revenue_cents": 5001,
        "discounts_cents": 150,
        "aov_cents": 5001,
        "new_customers": 1,
        "returning_customers": 0,
    }
    assert data["series"]["orders"][-1] == {"date": today.isoformat(), "value": 2}
    assert data["top"]["top_products"] == [{"label": "Widget", "value": 700, "id": "p-1"}]
    [query] = fake.queries()
    sql = query["query"]
    assert f"`{PROJECT}.packfinderz.marketplace_events`" in sql
    assert "QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id) = 1" in sql
    assert "QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY occurred_at, event_id) = 1" in sql
    params = {p["name"]: p["parameterValue"]["value"] for p in query["queryParameters"]}
    assert params["store"] == str(vendor.store_id)
    assert params["tz"] == "America/Chicago"


@pytest.mark.parametrize(
    ("status", "reason"), [(400, "invalidQuery"), (500, "backendError"), (404, "notFound")]
)
async def test_query_failures_are_503(
    bq_client: httpx.AsyncClient, db: Database, fake: FakeBigQuery, status: int, reason: str
) -> None:
    vendor = await vendor_at(bq_client, db)
    fake.query_failures.append((status, error_body(status, reason)))
    response = await bq_client.get("/api/v1/analytics/marketplace", headers=vendor.headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["details"] == {"dependency": "warehouse"}
    assert len(fake.queries()) == 1  # reads are not retried


async def test_readiness_reads_table_metadata(bq_client: httpx.AsyncClient, fake: FakeBigQuery) -> None:
    check = (await bq_client.get("/health/ready")).json()["data"]["checks"]["warehouse"]
    assert (check["status"], check["adapter"]) == ("ok", "bigquery")
    gets = [path for method, path, _ in fake.requests if method == "GET"]
    assert any(p.endswith("/tables/marketplace_events") for p in gets)
    assert any(p.endswith("/tables/ad_events") for p in gets)


async def test_readiness_fails_on_a_missing_table(bq_settings: Settings, fake: FakeBigQuery) -> None:
    fake.tables.discard("ad_events")
    app = create_app(bq_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/health/ready")
    assert response.status_code == 200  # reported, not required
    assert response.json()["data"]["checks"]["warehouse"]["status"] == "fail"
