"""Keyset pagination of product lists: every sort, ties, microsecond keys and concurrent inserts."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from packfinderz.catalog.search import SortCursor
from packfinderz.kit.db import Database
from tests.fixtures.catalog import EDMOND, OKC, all_pages, buyer_at, insert_products, vendor_at
from tests.fixtures.factories import Account


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "newest"},
        {"sort": "price_asc"},
        {"sort": "price_desc"},
        {"sort": "distance"},
        {"sort": "relevance", "q": "bulk"},
        {"sort": "newest", "q": "product"},
        {"sort": "price_asc", "category": "flower"},
    ],
)
async def test_pages_cover_the_set_once_in_order(
    client: httpx.AsyncClient, db: Database, params: dict[str, Any]
) -> None:
    rng = random.Random(5)
    first, second = await vendor_at(client, db, OKC), await vendor_at(client, db, EDMOND)
    made: list[uuid.UUID] = []
    for vendor in (first, second):
        for _ in range(3):  # equal prices and timestamps make ties that only the id breaks
            made += await insert_products(
                db, vendor, 6, price_cents=rng.choice((500, 700)), start=datetime(2026, 1, 1, tzinfo=UTC)
            )
    buyer = await buyer_at(client, OKC)
    whole = await all_pages(client, buyer, "/api/v1/products", limit=100, **params)
    paged = await all_pages(client, buyer, "/api/v1/products", limit=4, **params)
    assert [i["id"] for i in paged] == [i["id"] for i in whole]
    assert sorted(i["id"] for i in paged) == sorted(str(m) for m in made)


async def test_microsecond_keys_round_trip(client: httpx.AsyncClient, db: Database) -> None:
    """created_at values a float timestamp would round wrongly still page exactly."""
    vendor = await vendor_at(client, db)
    moment = datetime(2026, 11, 20, 10, 0, 0, 999_999, tzinfo=UTC)
    made = []
    for step in range(6):
        made += await insert_products(db, vendor, 1, start=moment - timedelta(microseconds=step))
    buyer = await buyer_at(client)
    paged = await all_pages(client, buyer, "/api/v1/products", limit=1)
    assert [i["id"] for i in paged] == [str(m) for m in made]  # newest first, one microsecond apart
    cursor = SortCursor("newest", moment, made[0])
    assert SortCursor.decode(cursor.encode(), "newest") == cursor


async def test_no_duplicates_or_gaps_while_rows_are_inserted(client: httpx.AsyncClient, db: Database) -> None:
    """Pages are read while another task keeps inserting products at random prices and now()."""
    vendor = await vendor_at(client, db)
    before = set()
    for _ in range(4):
        before |= {
            str(i) for i in await insert_products(db, vendor, 15, price_cents=random.randint(100, 900))
        }
    buyer = await buyer_at(client)
    stop = asyncio.Event()

    async def insert_continuously() -> int:
        inserted = 0
        while not stop.is_set():
            await insert_products(
                db, vendor, 2, price_cents=random.randint(100, 900), start=datetime.now(UTC)
            )
            inserted += 2
            await asyncio.sleep(0)
        return inserted

    for sort in ("newest", "price_asc", "price_desc"):
        stop.clear()
        writer = asyncio.create_task(insert_continuously())
        try:
            seen = await all_pages(client, buyer, "/api/v1/products", limit=7, sort=sort)
        finally:
            stop.set()
            inserted = await writer
        assert inserted > 0
        got = [i["id"] for i in seen]
        assert len(got) == len(set(got)), f"duplicates in {sort}"
        assert before <= set(got), f"gaps in {sort}"
        keys = [(i["price_cents"], i["id"]) if sort != "newest" else (i["created_at"], i["id"]) for i in seen]
        assert keys == sorted(keys, reverse=sort != "price_asc"), f"order in {sort}"


async def test_vendor_table_pages_include_inactive(client: httpx.AsyncClient, db: Database) -> None:
    vendor: Account = await vendor_at(client, db)
    active = await insert_products(db, vendor, 5)
    inactive = await insert_products(db, vendor, 5, is_active=False)
    seen = await all_pages(client, vendor, "/api/v1/vendor/products", limit=3)
    assert {i["id"] for i in seen} == {str(i) for i in active + inactive}
    first = (await client.get("/api/v1/vendor/products", params={"limit": 3}, headers=vendor.headers)).json()
    assert first["data"]["total"] == 10
