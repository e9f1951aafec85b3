"""The buyer page cache (issue #21) never serves what the next uncached search would not show.

Each test reads a page twice first (the second answer comes from the cache), changes the world, and
asserts that the very next identical request reflects the change.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.catalog import (
    DALLAS,
    EDMOND,
    OKC,
    TULSA,
    browse,
    buyer_at,
    create_product,
    ids,
    set_radius,
    vendor_at,
)
from tests.fixtures.db import statements
from tests.fixtures.factories import Account, set_store_kyc, set_subscription_active


async def cached_page(
    app: FastAPI, client: httpx.AsyncClient, buyer: Account, **params: Any
) -> dict[str, Any]:
    """The page, read twice; the second read is served from the page cache (no page statement)."""
    first = await browse(client, buyer, **params)
    with statements(app) as seen:
        again = await browse(client, buyer, **params)
    assert again.json() == first.json()
    assert len(seen) == 2, seen  # membership check and gate only: the page came from the cache
    body: dict[str, Any] = again.json()["data"]
    return body


def item(page: dict[str, Any], product_id: str) -> dict[str, Any]:
    return next(i for i in page["items"] if i["id"] == product_id)


async def test_hidden_vendor_disappears_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    kept, hidden = await vendor_at(client, db), await vendor_at(client, db)
    stays, goes = await create_product(client, kept), await create_product(client, hidden)
    buyer = await buyer_at(client)
    page = await cached_page(app, client, buyer)
    assert {stays["id"], goes["id"]} <= {i["id"] for i in page["items"]}
    assert page["total"] == 2

    await set_subscription_active(db, hidden.store_id, False)  # type: ignore[arg-type]
    response = await browse(client, buyer)
    assert ids(response) == [stays["id"]]
    assert response.json()["data"]["total"] == 1

    await set_subscription_active(db, hidden.store_id, True)  # type: ignore[arg-type]
    await set_store_kyc(db, hidden.store_id, "suspended")  # type: ignore[arg-type]
    assert ids(await browse(client, buyer)) == [stays["id"]]


async def test_price_change_shows_at_once(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    product = await create_product(client, vendor, price_cents=1500)
    buyer = await buyer_at(client)
    params = {"sort": "price_asc", "category": product["category"]}
    assert item(await cached_page(app, client, buyer, **params), product["id"])["price_cents"] == 1500

    response = await client.patch(
        f"/api/v1/vendor/products/{product['id']}", json={"price_cents": 1999}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    page = (await browse(client, buyer, **params)).json()["data"]
    assert item(page, product["id"])["price_cents"] == 1999

    # a write outside the api (the catalog version trigger covers every write to products)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE products SET price_cents = 2222 WHERE id = :id"), {"id": product["id"]}
        )
    page = (await browse(client, buyer, **params)).json()["data"]
    assert item(page, product["id"])["price_cents"] == 2222


async def test_deactivated_product_disappears_at_once(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    kept, dropped = await create_product(client, vendor), await create_product(client, vendor)
    buyer = await buyer_at(client)
    for params in ({}, {"q": dropped["title"].split()[0]}):
        await cached_page(app, client, buyer, **params)
    response = await client.patch(
        f"/api/v1/vendor/products/{dropped['id']}", json={"is_active": False}, headers=vendor.headers
    )
    assert response.status_code == 200, response.text
    assert dropped["id"] not in ids(await browse(client, buyer))
    assert dropped["id"] not in ids(await browse(client, buyer, q=dropped["title"].split()[0]))
    assert kept["id"] in ids(await browse(client, buyer))


async def test_no_page_crosses_states(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    oklahoma, texas = await vendor_at(client, db, OKC), await vendor_at(client, db, DALLAS)
    ok_product, tx_product = await create_product(client, oklahoma), await create_product(client, texas)
    ok_buyer, tx_buyer = await buyer_at(client, OKC), await buyer_at(client, DALLAS)
    for params in ({}, {"sort": "price_asc"}, {"q": ok_product["title"].split()[0]}):
        assert ids(await browse(client, ok_buyer, **params)) == [ok_product["id"]]
        assert ids(await browse(client, tx_buyer, **params)) == [tx_product["id"]]
        assert ids(await browse(client, ok_buyer, **params)) == [ok_product["id"]]


async def test_no_page_crosses_buyer_positions(app: FastAPI, client: httpx.AsyncClient, db: Database) -> None:
    """Two buyers of one state: a radius vendor reaches one of them only; distances are each buyer's own."""
    statewide, local = await vendor_at(client, db, OKC), await vendor_at(client, db, OKC)
    await set_radius(db, local.store_id, 50_000)
    everywhere, nearby = await create_product(client, statewide), await create_product(client, local)
    near, far = await buyer_at(client, EDMOND), await buyer_at(client, TULSA)
    for _ in range(2):  # the second round reads both pages from the cache
        near_page = (await browse(client, near, sort="distance")).json()["data"]
        far_page = (await browse(client, far, sort="distance")).json()["data"]
        assert {i["id"] for i in near_page["items"]} == {everywhere["id"], nearby["id"]}
        assert [i["id"] for i in far_page["items"]] == [everywhere["id"]]
        assert item(near_page, everywhere["id"])["distance_meters"] < 50_000
        assert item(far_page, everywhere["id"])["distance_meters"] > 100_000


async def test_vendor_moving_out_of_reach_disappears(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db, OKC)
    product = await create_product(client, vendor)
    buyer = await buyer_at(client, TULSA)
    assert [i["id"] for i in (await cached_page(app, client, buyer))["items"]] == [product["id"]]
    await set_radius(db, vendor.store_id, 50_000)  # Tulsa is about 160 km away
    assert ids(await browse(client, buyer)) == []


def counts(seen: list[str]) -> list[str]:
    """The per-vendor count statements among `seen`."""
    return [s for s in seen if "count(*)" in s and "GROUP BY" in s]


async def test_totals_are_counted_per_vendor_once_and_follow_each_vendors_writes(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    """Buyers of one state share per-vendor counts (each kept under the vendor's catalog version): the
    second buyer counts nothing the first one counted, and a write of one vendor recounts only it."""
    statewide, local = await vendor_at(client, db, OKC), await vendor_at(client, db, OKC)
    await set_radius(db, local.store_id, 50_000)
    for _ in range(2):
        await create_product(client, statewide, category="flower")
    await create_product(client, local, category="flower")
    near, far = await buyer_at(client, EDMOND), await buyer_at(client, TULSA)

    with statements(app) as seen:
        assert (await browse(client, near, category="flower")).json()["data"]["total"] == 3
    assert len(counts(seen)) == 1  # both vendors, one statement
    with statements(app) as seen:
        assert (await browse(client, far, category="flower")).json()["data"]["total"] == 2
    assert counts(seen) == []  # the statewide vendor's count came from the near buyer's request

    await create_product(client, statewide, category="flower")  # bumps only that vendor's version
    with statements(app) as seen:
        assert (await browse(client, near, category="flower")).json()["data"]["total"] == 4
    assert len(counts(seen)) == 1
    with statements(app) as seen:
        assert (await browse(client, far, category="flower")).json()["data"]["total"] == 3
    assert counts(seen) == []

    async with db.transaction() as session:  # a write outside the api: the version trigger covers it
        await session.execute(
            text("UPDATE products SET category = 'edible' WHERE store_id = :id"), {"id": local.store_id}
        )
    assert (await browse(client, near, category="flower")).json()["data"]["total"] == 3
    assert (await browse(client, near, category="edible")).json()["data"]["total"] == 1
    # text search counts over its materialized matches, per vendor too
    assert (await browse(client, near, q="dream")).json()["data"]["total"] == 4
    with statements(app) as seen:
        assert (await browse(client, far, q="dream")).json()["data"]["total"] == 3
    assert counts(seen) == []
