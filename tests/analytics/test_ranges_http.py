"""Ranges and buckets over HTTP (money-ads-analytics.md §3.3): hourly, daily and weekly series across
the 2026 DST changes of America/Chicago, zero-filled; every 400; who may read which dashboard; 503."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from packfinderz.app import create_app
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.warehouse.postgres import PostgresWarehouse
from tests.fixtures.catalog import buyer_at, vendor_at
from tests.fixtures.factories import Account, set_subscription_active


def created(vendor: uuid.UUID, at: str, discounts: int = 0) -> dict[str, Any]:
    order = uuid.uuid4()
    return {
        "event_id": uuid.uuid5(order, "order"),
        "event_type": "order_created",
        "occurred_at": datetime.fromisoformat(at),
        "order_id": order,
        "buyer_store_id": uuid.uuid4(),
        "vendor_store_id": vendor,
        "discounts_cents": discounts,
        "gross_revenue_cents": 1000,
        "net_revenue_cents": 1000,
        "items": [],
        "payload": {},
    }


async def seed(db: Database, *rows: dict[str, Any]) -> None:
    async with db.transaction() as session:
        await PostgresWarehouse("analytics").write(session, list(rows), [])


async def series(
    client: httpx.AsyncClient, vendor: Account, **params: str
) -> tuple[str, list[dict[str, Any]]]:
    response = await client.get("/api/v1/vendor/analytics", params=params, headers=vendor.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["range"]["bucket"], data["series"]["orders"]


@pytest.fixture
async def vendor(client: httpx.AsyncClient, db: Database) -> Account:
    return await vendor_at(client, db)  # verified and subscribed


async def test_48_hours_are_hourly_across_the_fall_back(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    assert vendor.store_id is not None
    # 01:30 happens twice on 2026-11-01: once in CDT (-05:00), once in CST (-06:00).
    await seed(
        db,
        created(vendor.store_id, "2026-11-01T01:30:00-05:00"),
        created(vendor.store_id, "2026-11-01T01:30:00-06:00"),
        created(vendor.store_id, "2026-11-01T01:45:00-06:00"),
        created(vendor.store_id, "2026-11-02T11:00:00-06:00"),  # the end is exclusive
    )
    bucket, points = await series(
        client, vendor, **{"from": "2026-10-31T12:00:00-05:00", "to": "2026-11-02T11:00:00-06:00"}
    )
    assert bucket == "hour"
    assert len(points) == 48  # 48 elapsed hours, although the wall clock shows 47
    assert points[0]["date"] == "2026-10-31T12:00:00-05:00"
    assert points[-1]["date"] == "2026-11-02T10:00:00-06:00"
    values = {p["date"]: p["value"] for p in points}
    assert values["2026-11-01T01:00:00-05:00"] == 1
    assert values["2026-11-01T01:00:00-06:00"] == 2
    assert sum(values.values()) == 3


async def test_48_hours_are_hourly_across_the_spring_forward(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    assert vendor.store_id is not None
    await seed(db, created(vendor.store_id, "2026-03-08T03:10:00-05:00"))
    bucket, points = await series(
        client, vendor, **{"from": "2026-03-07T00:00:00-06:00", "to": "2026-03-09T01:00:00-05:00"}
    )
    assert bucket == "hour"
    assert len(points) == 48
    dates = [p["date"] for p in points]
    assert "2026-03-08T01:00:00-06:00" in dates
    assert not any(d.startswith("2026-03-08T02:") for d in dates)  # that hour does not exist
    assert {p["date"]: p["value"] for p in points}["2026-03-08T03:00:00-05:00"] == 1


async def test_90_days_are_daily_and_91_weekly_from_monday_across_a_dst_change(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    assert vendor.store_id is not None
    await seed(
        db,
        created(vendor.store_id, "2026-09-01T00:00:00-05:00"),  # first instant of the range
        created(vendor.store_id, "2026-11-01T23:30:00-06:00"),  # Sunday night, after the fall back
        created(vendor.store_id, "2026-11-02T00:30:00-06:00"),  # Monday
        created(vendor.store_id, "2026-08-31T23:59:00-05:00"),  # before the range
    )
    # 2026-09-01 .. 2026-11-29 is 90 local days (90 days and one hour elapsed): daily.
    bucket, points = await series(client, vendor, **{"from": "2026-09-01", "to": "2026-11-29"})
    assert bucket == "day"
    assert len(points) == 90
    assert (points[0]["date"], points[-1]["date"]) == ("2026-09-01", "2026-11-29")
    values = {p["date"]: p["value"] for p in points}
    assert (values["2026-09-01"], values["2026-11-01"], values["2026-11-02"]) == (1, 1, 1)
    assert sum(values.values()) == 3

    # One more day: weekly, each bucket the Monday starting its ISO week (the first one before `from`).
    bucket, points = await series(client, vendor, **{"from": "2026-09-01", "to": "2026-11-30"})
    assert bucket == "week"
    dates = [p["date"] for p in points]
    assert dates[0] == "2026-08-31"
    assert dates == [(datetime(2026, 8, 31) + timedelta(weeks=n)).date().isoformat() for n in range(14)]
    values = {p["date"]: p["value"] for p in points}
    assert (values["2026-08-31"], values["2026-10-26"], values["2026-11-02"]) == (1, 1, 1)
    assert sum(values.values()) == 3


async def test_presets_and_the_default(client: httpx.AsyncClient, vendor: Account) -> None:
    for params, bucket, count in (
        ({"preset": "7d"}, "day", 8),
        ({}, "day", 31),
        ({"preset": "90d"}, "day", 91),
    ):
        got, points = await series(client, vendor, **params)
        assert (got, len(points)) == (bucket, count), params
        assert all(p["value"] == 0 for p in points)  # zero-filled
    response = await client.get("/api/v1/vendor/analytics", headers=vendor.headers)
    data = response.json()["data"]
    start, end = datetime.fromisoformat(data["range"]["from"]), datetime.fromisoformat(data["range"]["to"])
    assert data["range"]["tz"] == "America/Chicago"
    assert abs((end.astimezone(UTC) - datetime.now(UTC)).total_seconds()) < 60
    assert end.replace(tzinfo=None) - start.replace(tzinfo=None) == timedelta(days=30)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01-01"},
        {"to": "2026-01-01"},
        {"from": "2026-01-02", "to": "2026-01-01"},
        {"from": "2026-01-01T10:00:00Z", "to": "2026-01-01T10:00:00Z"},
        {"from": "2025-01-01", "to": "2026-01-02"},
        {"preset": "30d", "from": "2026-01-01", "to": "2026-01-02"},
        {"preset": "1y"},
        {"from": "yesterday", "to": "2026-01-02"},
        {"from": "2026-01-01T10:00:00", "to": "2026-01-02T10:00:00"},
        # issue #18: numbers, calendar-invalid dates and moments past year 9999 in the zone
        {"from": "2026-01-01", "to": "0.5"},
        {"from": "0", "to": "1"},
        {"from": "2026-02-27", "to": "2026-02-30"},
        {"from": "2026-01-01", "to": "2026-01-02T25:00:00Z"},
        {"from": "9999-12-30", "to": "9999-12-31"},
        {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59-23:59"},
    ],
)
async def test_bad_ranges_are_400(client: httpx.AsyncClient, vendor: Account, params: dict[str, str]) -> None:
    for path in ("/api/v1/vendor/analytics", "/api/v1/analytics/marketplace"):
        response = await client.get(path, params=params, headers=vendor.headers)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_366_days_is_the_longest_range(client: httpx.AsyncClient, vendor: Account) -> None:
    bucket, points = await series(client, vendor, **{"from": "2025-01-01", "to": "2026-01-01"})
    assert bucket == "week"
    assert points[0]["date"] == "2024-12-30"


async def test_who_reads_which_dashboard(client: httpx.AsyncClient, db: Database, vendor: Account) -> None:
    assert vendor.store_id is not None
    buyer = await buyer_at(client)
    assert (await client.get("/api/v1/analytics/marketplace")).status_code == 401
    # Buyers read the marketplace dashboard from their side, never the vendor one.
    response = await client.get("/api/v1/analytics/marketplace", headers=buyer.headers)
    assert response.status_code == 200
    assert (await client.get("/api/v1/vendor/analytics", headers=buyer.headers)).status_code == 403
    # No active subscription: 403 on the vendor dashboard, the marketplace one still answers.
    await set_subscription_active(db, vendor.store_id, False)
    refused = await client.get("/api/v1/vendor/analytics", headers=vendor.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert (await client.get("/api/v1/analytics/marketplace", headers=vendor.headers)).status_code == 200


async def test_a_failing_warehouse_is_503(app_settings: Settings, db: Database) -> None:
    broken = create_app(app_settings.model_copy(update={"warehouse_pg_schema": "no_such_schema"}))
    async with broken.router.lifespan_context(broken):
        transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            vendor = await vendor_at(client, db)
            for path in ("/api/v1/vendor/analytics", "/api/v1/analytics/marketplace"):
                response = await client.get(path, headers=vendor.headers)
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert (error["code"], error["details"]) == ("DEPENDENCY_ERROR", {"dependency": "warehouse"})
            ready = await client.get("/health/ready")
            # The warehouse is reported, not required: the api stays ready.
            assert ready.status_code == 200
            check = ready.json()["data"]["checks"]["warehouse"]
            assert (check["status"], check["required"]) == ("fail", False)


async def test_readiness_reports_the_warehouse(client: httpx.AsyncClient) -> None:
    check = (await client.get("/health/ready")).json()["data"]["checks"]["warehouse"]
    assert (check["status"], check["adapter"], check["required"]) == ("ok", "postgres", False)
