"""The billing migration goes up and down, and the database matches the ORM's constraints and indexes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from packfinderz.kit import migrations
from packfinderz.kit.db import Database
from packfinderz.models import Base
from tests.fixtures import factories
from tests.fixtures.servers import TestServers, _with_database

BILLING_TABLES = (
    "billing_plans",
    "subscriptions",
    "payment_methods",
    "charges",
    "usage_charges",
    "billing_sandbox_objects",
)
REVISION = "20261207010000"
BEFORE = "20261125070000"


async def _admin(servers: TestServers, statement: str) -> None:
    engine = create_async_engine(servers.admin_db_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch(servers: TestServers) -> AsyncIterator[str]:
    name = f"pf_billing_{servers.worker}_{uuid.uuid4().hex[:8]}"
    await _admin(servers, f'CREATE DATABASE "{name}"')
    yield _with_database(servers.db_url, name)
    await _admin(servers, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _names(url: str, sql: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {str(row[0]) for row in await connection.execute(text(sql))}
    finally:
        await engine.dispose()


def _tables_sql() -> str:
    names = ", ".join(f"'{t}'" for t in BILLING_TABLES)
    return f"SELECT tablename FROM pg_tables WHERE tablename IN ({names})"


def _index_sql() -> str:
    names = ", ".join(f"'{t}'" for t in BILLING_TABLES)
    return f"SELECT indexname FROM pg_indexes WHERE tablename IN ({names}) AND indexname NOT LIKE 'pk_%'"


def _constraint_sql() -> str:
    names = ", ".join(f"'{t}'" for t in BILLING_TABLES)
    return (
        "SELECT conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        f"WHERE t.relname IN ({names}) AND c.contype IN ('c', 'u')"
    )


async def test_billing_revision_goes_down_and_up_again(scratch: str) -> None:
    assert REVISION in migrations.revision_chain()
    await asyncio.to_thread(migrations.upgrade, scratch, REVISION)
    assert await _names(scratch, _tables_sql()) == set(BILLING_TABLES)
    indexes = await _names(scratch, _index_sql())
    constraints = await _names(scratch, _constraint_sql())

    await asyncio.to_thread(migrations.downgrade, scratch, BEFORE)
    assert await _names(scratch, _tables_sql()) == set()
    assert "ix_stores_billing_customer_id" not in await _names(
        scratch, "SELECT indexname FROM pg_indexes WHERE tablename = 'stores'"
    )

    await asyncio.to_thread(migrations.upgrade, scratch, REVISION)
    assert await _names(scratch, _index_sql()) == indexes
    assert await _names(scratch, _constraint_sql()) == constraints


async def test_the_database_has_every_constraint_and_index_of_the_models(servers: TestServers) -> None:
    expected_indexes: set[str] = set()
    expected_constraints: set[str] = set()
    for name in BILLING_TABLES:
        table = Base.metadata.tables[name]
        for index in table.indexes:
            assert isinstance(index, Index)
            expected_indexes.add(str(index.name))
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint | UniqueConstraint):
                expected_constraints.add(str(constraint.name))
    unique_indexes = {n for n in expected_constraints if n.startswith("uq_")}
    assert await _names(servers.db_url, _index_sql()) == expected_indexes | unique_indexes
    assert await _names(servers.db_url, _constraint_sql()) == expected_constraints


async def _fails(db: Database, sql: str, **params: object) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text(sql), params)


async def test_one_live_subscription_and_one_default_card_per_store(
    client: httpx.AsyncClient, db: Database
) -> None:
    store = await factories.register_vendor(client)
    insert = (
        "INSERT INTO subscriptions (store_id, provider_subscription_id, status) "
        "VALUES (:store, :sub, :status)"
    )
    async with db.transaction() as session:
        await session.execute(text(insert), {"store": store.store_id, "sub": "s1", "status": "canceled"})
        await session.execute(text(insert), {"store": store.store_id, "sub": "s2", "status": "active"})
    await _fails(db, insert, store=store.store_id, sub="s3", status="unpaid")
    await _fails(db, insert, store=store.store_id, sub="s4", status="bogus")
    card = (
        "INSERT INTO payment_methods (store_id, provider_card_id, is_default, card_last4) "
        "VALUES (:store, :card, :default, :last4)"
    )
    async with db.transaction() as session:
        await session.execute(
            text(card), {"store": store.store_id, "card": "c1", "default": True, "last4": "1111"}
        )
        await session.execute(
            text(card), {"store": store.store_id, "card": "c2", "default": False, "last4": "1111"}
        )
    await _fails(db, card, store=store.store_id, card="c3", default=True, last4="1111")
    await _fails(db, card, store=store.store_id, card="c4", default=False, last4="11a1")
    usage = "INSERT INTO usage_charges (store_id, for_date) VALUES (:store, DATE '2026-12-01')"
    async with db.transaction() as session:
        await session.execute(text(usage), {"store": store.store_id})
    await _fails(db, usage, store=store.store_id)
    plan = (
        "INSERT INTO billing_plans (id, name, provider_plan_id, interval, price_amount_cents, is_default) "
        "VALUES (:id, 'Plan', :provider, 'EVERY_30_DAYS', :price, :default)"
    )
    async with db.transaction() as session:
        await session.execute(text(plan), {"id": "a_v1", "provider": "p1", "price": 0, "default": True})
    await _fails(db, plan, id="b_v1", provider="p2", price=100, default=True)
    await _fails(db, plan, id="Bad-Id", provider="p3", price=100, default=False)
    await _fails(db, plan, id="c_v1", provider="p4", price=-1, default=False)
    await _fails(db, plan, id="d_v1", provider="p1", price=1, default=False)
