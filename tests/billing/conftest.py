"""Billing test helpers: vendors with cards and plans through the API, rows and audits read directly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.factories import Account, admin_headers, idem, register_vendor
from tests.fixtures.fake_square import FakeSquare, start_fake_square

PLAN: dict[str, Any] = {
    "id": "starter_v1",
    "name": "Starter",
    "status": "active",
    "provider_plan_id": "plan-var-starter",
    "interval": "EVERY_30_DAYS",
    "price_amount_cents": 4999,
    "currency_code": "USD",
    "is_default": True,
    "features": ["visibility"],
    "ui": {"badge": "popular", "bullets": ["Listed in your state"]},
}


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: Database, settings: Settings) -> dict[str, str]:
    """Headers of a logged-in admin."""
    return await admin_headers(client, db, settings)


@pytest.fixture
async def plan(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    """The default plan `starter_v1`."""
    return await create_plan(client, admin, **PLAN)


async def create_plan(client: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/admin/v1/billing/plans", json={**PLAN, **body}, headers=admin)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
async def vendor(client: httpx.AsyncClient) -> Account:
    return await register_vendor(client)


async def add_card(
    client: httpx.AsyncClient, vendor: Account, source_id: str = "cnon:card-ok", **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/vendor/payment-methods/cc",
        json={"source_id": source_id, **body},
        headers={**vendor.headers, **idem()},
    )


async def card(
    client: httpx.AsyncClient, vendor: Account, source_id: str = "cnon:card-ok", **body: Any
) -> dict[str, Any]:
    response = await add_card(client, vendor, source_id, **body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def subscribe(
    client: httpx.AsyncClient, vendor: Account, key: str | None = None, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/vendor/subscriptions", json=body, headers={**vendor.headers, **idem(key)}
    )


async def action(client: httpx.AsyncClient, vendor: Account, name: str) -> httpx.Response:
    return await client.post(f"/api/v1/vendor/subscriptions/{name}", headers={**vendor.headers, **idem()})


async def simulate(
    client: httpx.AsyncClient, admin: dict[str, str], subscription_id: str, event: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/admin/v1/billing/sandbox/subscriptions/{subscription_id}/simulate",
        json={"event": event},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        return [dict(r._mapping) for r in await session.execute(text(sql), params)]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def flag(db: Database, store_id: uuid.UUID | None) -> bool:
    return bool(await scalar(db, "SELECT subscription_active FROM stores WHERE id = :id", id=store_id))


async def table_counts(db: Database) -> dict[str, int]:
    """Row counts of the billing tables and audit rows (a refused request changes none)."""
    counts = {}
    for table in ("subscriptions", "payment_methods", "charges", "billing_plans", "audit_logs"):
        counts[table] = int(await scalar(db, f"SELECT count(*) FROM {table}"))
    return counts


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


@pytest.fixture(scope="session")
def fake_square_server() -> Iterator[FakeSquare]:
    fake, server, thread = start_fake_square()
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def fake_square(fake_square_server: FakeSquare) -> FakeSquare:
    """The fake Square API, emptied for this test."""
    fake_square_server.reset()
    return fake_square_server


def square_settings(settings: Settings, fake: FakeSquare, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "billing_provider": "square",
        "square_base_url": fake.url,
        "square_access_token": SecretStr("sq-test-token"),
        "square_location_id": "LOC1",
        "square_webhook_signature_key": SecretStr("whsec-test"),
        "square_webhook_url": "https://api.example.test/api/v1/webhooks/square",
        **overrides,
    }
    return settings.model_copy(update=values)


@pytest.fixture
async def failing_insert(db: Database) -> AsyncIterator[Any]:
    """`arm(table)` makes every INSERT into the table fail (a database write failing after the provider
    call); the trigger is dropped after the test."""
    armed: list[str] = []

    async def arm(table: str) -> None:
        async with db.transaction() as session:
            await session.execute(
                text(
                    "CREATE OR REPLACE FUNCTION pf_test_fail_insert() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'simulated database failure'; END; $$"
                )
            )
            await session.execute(
                text(
                    f"CREATE TRIGGER pf_test_fail_insert BEFORE INSERT ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION pf_test_fail_insert()"
                )
            )
        armed.append(table)

    yield arm
    async with db.transaction() as session:
        for table in armed:
            await session.execute(text(f"DROP TRIGGER IF EXISTS pf_test_fail_insert ON {table}"))
