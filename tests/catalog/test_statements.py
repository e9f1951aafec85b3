"""No N+1: the SQL statements of a search page and of a product detail do not grow with their size."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from packfinderz.catalog.repository.search import visible_vendors
from packfinderz.kit.db import Database
from tests.fixtures.catalog import buyer_at, create_product, insert_products, vendor_at
from tests.fixtures.compliance import PNG, uploaded
from tests.fixtures.db import statements


async def test_search_page_statements_do_not_depend_on_page_size(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    vendors = [await vendor_at(client, db) for _ in range(3)]
    for vendor in vendors:
        await insert_products(db, vendor, 40)
    buyer = await buyer_at(client)
    counts: dict[tuple[str, int], int] = {}
    cached: dict[tuple[str, int], int] = {}
    for params in ({}, {"q": "bulk", "sort": "relevance"}, {"sort": "distance"}, {"category": "flower"}):
        # warms the total (shared by every page size), not the pages measured below
        await client.get("/api/v1/products", params={**params, "limit": 50}, headers=buyer.headers)
        for limit in (1, 100):
            query = {**params, "limit": limit}
            with statements(app) as seen:
                response = await client.get("/api/v1/products", params=query, headers=buyer.headers)
            assert response.status_code == 200
            assert len(response.json()["data"]["items"]) == min(limit, 120)
            counts[(str(params), limit)] = len(seen)
            with statements(app) as seen:
                again = await client.get("/api/v1/products", params=query, headers=buyer.headers)
            assert again.json() == response.json()
            cached[(str(params), limit)] = len(seen)
    # membership check, gate (with the planner settings), page (the total comes from its cache)
    assert set(counts.values()) == {3}, counts
    # the same page again: membership check and gate (the freshness check), the page from its cache
    assert set(cached.values()) == {2}, cached


async def test_first_search_counts_once(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    await insert_products(db, vendor, 30)
    buyer = await buyer_at(client)
    with statements(app) as seen:
        await client.get("/api/v1/products", params={"limit": 5}, headers=buyer.headers)
    assert len(seen) == 4
    assert sum("count(" in s.lower() for s in seen) == 1


async def test_vendor_table_and_storefront_statements(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    await insert_products(db, vendor, 60)
    buyer = await buyer_at(client)
    for account, path in (
        (vendor, "/api/v1/vendor/products"),
        (buyer, f"/api/v1/stores/{vendor.store_id}/products"),
    ):
        counts = []
        for limit in (1, 50):
            with statements(app) as seen:
                response = await client.get(path, params={"limit": limit}, headers=account.headers)
            assert response.status_code == 200
            counts.append(len(seen))
        assert counts[0] == counts[1] <= 5, (path, counts)


async def test_detail_statements_do_not_depend_on_tiers_or_gallery(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    buyer = await buyer_at(client)
    small = await create_product(client, vendor)
    images = [
        str(
            (
                await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name=f"{i}.png")
            ).media_id
        )
        for i in range(6)
    ]
    tiers = [{"min_qty": q, "discount_percent": q / 10} for q in range(2, 12)]
    large = await create_product(client, vendor, media_ids=images, volume_discounts=tiers)
    counts = []
    for product in (small, large):
        with statements(app) as seen:
            response = await client.get(f"/api/v1/products/{product['id']}", headers=buyer.headers)
        assert response.status_code == 200
        counts.append(len(seen))
    assert len(response.json()["data"]["media"]) == 6
    assert len(response.json()["data"]["volume_discounts"]) == 10
    # membership, product + vendor, inventory + COA, tiers, gallery
    assert counts == [5, 5]
    async with db.transaction() as session:
        assert await session.scalar(text("SELECT count(*) FROM product_media")) == 6


async def test_gate_applies_the_search_planner_settings(client: httpx.AsyncClient, db: Database) -> None:
    """The gate carries the list statement's planner settings (one round trip less per search page)."""
    await vendor_at(client, db)
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('jit')"
    async with db.transaction() as session:
        vendors = await visible_vendors(session, "OK", 35.4676, -97.5164, plan_search=True)
        assert vendors
        assert tuple((await session.execute(text(settings))).one()) == ("force_custom_plan", "off")
    async with db.transaction() as session:  # SET LOCAL: gone with the transaction; plain gate: unchanged
        await visible_vendors(session, "OK", 35.4676, -97.5164)
        assert (await session.execute(text(settings))).one()[0] == "auto"
