"""Browse filters, sorts and text search (commerce.md §5.1, §5.2), and every bad input they refuse."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from packfinderz.kit.db import Database
from tests.fixtures.catalog import EDMOND, OKC, TULSA, browse, buyer_at, create_product, error, ids, vendor_at
from tests.fixtures.factories import Account


@pytest.fixture
async def buyer(client: httpx.AsyncClient) -> Account:
    return await buyer_at(client)


@pytest.fixture
async def catalog(client: httpx.AsyncClient, db: Database) -> dict[str, dict[str, Any]]:
    """Five products of one visible vendor with distinct categories, prices, potencies and text."""
    vendor = await vendor_at(client, db)
    specs: dict[str, dict[str, Any]] = {
        "flower": {
            "title": "Blue Dream Flower",
            "category": "flower",
            "classification": "sativa",
            "price_cents": 3000,
            "thc_percent": 24,
            "cbd_percent": 0.5,
            "brand": "Emerald Coast",
            "sku": "FLW-BD-001",
        },
        "cart": {
            "title": "Gelato Cart 1g",
            "category": "cart",
            "classification": "hybrid",
            "price_cents": 2000,
            "thc_percent": 85,
            "strain": "Gelato",
            "sku": "CRT-GL-002",
            "volume_discounts": [{"min_qty": 10, "discount_percent": 5}],
        },
        "edible": {
            "title": "Sour Gummies",
            "category": "edible",
            "classification": "indica",
            "price_cents": 1500,
            "thc_percent": 2,
            "cbd_percent": 2,
            "body_html": "<p>Made with <b>real</b> mango and dream-like calm</p>",
            "sku": "EDB-SG-003",
        },
        "balm": {
            "title": "Relief Balm",
            "category": "topical",
            "price_cents": 4500,
            "cbd_percent": 30,
            "subtitle": "Peppermint",
            "sku": "TOP-RB-004",
        },
        "grinder": {
            "title": "Steel Grinder",
            "category": "accessory",
            "price_cents": 2000,
            "sku": "ACC-GR-005",
        },
    }
    return {name: await create_product(client, vendor, **spec) for name, spec in specs.items()}


def names(response: httpx.Response, catalog: dict[str, dict[str, Any]]) -> list[str]:
    by_id = {product["id"]: name for name, product in catalog.items()}
    return [by_id[i] for i in ids(response)]


async def test_default_order_is_newest_first(
    client: httpx.AsyncClient, buyer: Account, catalog: dict[str, dict[str, Any]]
) -> None:
    response = await browse(client, buyer)
    assert names(response, catalog) == ["grinder", "balm", "edible", "cart", "flower"]
    data = response.json()["data"]
    assert data["total"] == 5
    assert data["next_cursor"] is None
    item = data["items"][0]
    assert set(item) == {
        "id", "sku", "title", "subtitle", "brand", "strain", "category", "classification", "unit", "moq",
        "max_qty", "price_cents", "compare_at_price_cents", "thc_percent", "cbd_percent", "has_promo",
        "vendor_store_id", "coa_added", "is_active", "created_at", "updated_at", "thumbnail_url", "inventory",
        "distance_meters",
    }  # fmt: skip
    assert item["distance_meters"] == 0
    assert item["inventory"]["available_qty"] == 100


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "cart"}, {"cart"}),
        ({"classification": "indica"}, {"edible"}),
        ({"price_min_cents": 2000, "price_max_cents": 3000}, {"flower", "cart", "grinder"}),
        ({"price_min_cents": 4500}, {"balm"}),
        ({"price_max_cents": 1500}, {"edible"}),
        ({"thc_min": 20}, {"flower", "cart"}),
        ({"thc_max": 2}, {"edible"}),  # inclusive; a null thc never matches a bound
        ({"cbd_min": 0.5, "cbd_max": 2}, {"flower", "edible"}),
        ({"has_promo": "true"}, {"cart"}),
        ({"has_promo": "false"}, {"flower", "edible", "balm", "grinder"}),
        ({"category": "flower", "thc_min": 30}, set()),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    buyer: Account,
    catalog: dict[str, dict[str, Any]],
    params: dict[str, Any],
    expected: set[str],
) -> None:
    response = await browse(client, buyer, **params)
    assert set(names(response, catalog)) == expected
    assert response.json()["data"]["total"] == len(expected)


async def test_vendor_filter(
    client: httpx.AsyncClient, db: Database, buyer: Account, catalog: dict[str, dict[str, Any]]
) -> None:
    other = await vendor_at(client, db)
    mine = await create_product(client, other)
    vendor_id = catalog["flower"]["vendor"]["store_id"]
    assert len(ids(await browse(client, buyer, vendor_store_id=vendor_id))) == 5
    assert ids(await browse(client, buyer, vendor_store_id=str(other.store_id))) == [mine["id"]]


async def test_price_sorts_break_ties_by_id(
    client: httpx.AsyncClient, buyer: Account, catalog: dict[str, dict[str, Any]]
) -> None:
    ascending = names(await browse(client, buyer, sort="price_asc"), catalog)
    tied = sorted(["cart", "grinder"], key=lambda n: catalog[n]["id"])
    assert ascending == ["edible", *tied, "flower", "balm"]
    descending = names(await browse(client, buyer, sort="price_desc"), catalog)
    assert descending == ["balm", "flower", *reversed(tied), "edible"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("blue", {"flower"}),  # title
        ("BLUE dre", {"flower"}),  # every token as a prefix, any case
        ("emerald", {"flower"}),  # brand
        ("gelato", {"cart"}),  # title and strain
        ("mango", {"edible"}),  # body, tags stripped
        ("real mango", {"edible"}),
        ("b real", set()),  # <b> is markup, not a word
        ("peppermint", {"balm"}),  # subtitle
        ("dream", {"flower", "edible"}),
        ("crt-gl", {"cart"}),  # SKU prefix (tokens crt, gl match nothing else)
        ("ACC-GR-005", {"grinder"}),
        ("---", set()),  # no tokens: SKU prefix only
        ("%", set()),
        ("nothing here", set()),
    ],
)
async def test_text_search(
    client: httpx.AsyncClient, buyer: Account, catalog: dict[str, dict[str, Any]], q: str, expected: set[str]
) -> None:
    response = await browse(client, buyer, q=q)
    assert set(names(response, catalog)) == expected, q
    assert response.json()["data"]["total"] == len(expected)


async def test_relevance(client: httpx.AsyncClient, db: Database, buyer: Account) -> None:
    vendor = await vendor_at(client, db)
    title = await create_product(client, vendor, title="Dream Machine", sku="ZZ-1")
    body = await create_product(client, vendor, title="Other", body_html="<p>dream</p>", sku="ZZ-2")
    sku_prefix = await create_product(client, vendor, title="Plain", body_html="<p>dream</p>", sku="DREAMY-7")
    exact = await create_product(client, vendor, title="Dream Team", sku="dream")
    ranked = await browse(client, buyer, q="dream", sort="relevance")
    # ts_rank_cd: 1.0 for the title (weight A), 0.2 for the body (weight C); +1.0 exact SKU, +0.5 prefix
    assert ids(ranked) == [exact["id"], title["id"], sku_prefix["id"], body["id"]]  # 2.0, 1.0, 0.7, 0.2
    page = await browse(client, buyer, q="dream", sort="relevance", limit=2)
    rest = await browse(
        client, buyer, q="dream", sort="relevance", limit=2, cursor=page.json()["data"]["next_cursor"]
    )
    assert ids(page) + ids(rest) == ids(ranked)


async def test_distance_sort(client: httpx.AsyncClient, db: Database) -> None:
    near = await vendor_at(client, db, EDMOND)
    here = await vendor_at(client, db, OKC)
    far = await vendor_at(client, db, TULSA)
    made = {
        name: await create_product(client, v) for name, v in (("far", far), ("here", here), ("near", near))
    }
    buyer = await buyer_at(client, OKC)
    response = await browse(client, buyer, sort="distance")
    items = response.json()["data"]["items"]
    assert [i["id"] for i in items] == [made["here"]["id"], made["near"]["id"], made["far"]["id"]]
    distances = [i["distance_meters"] for i in items]
    assert distances[0] == 0
    assert 15_000 < distances[1] < 30_000
    assert 150_000 < distances[2] < 170_000
    assert all(isinstance(d, int) for d in distances)
    text_sorted = await browse(client, buyer, sort="distance", q="blue")
    assert [i["id"] for i in text_sorted.json()["data"]["items"]] == [i["id"] for i in items]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "shoes"}, "category"),
        ({"classification": "x"}, "classification"),
        ({"sort": "popular"}, "sort"),
        ({"sort": "relevance"}, "sort"),  # relevance needs q
        ({"price_min_cents": -1}, "price_min_cents"),
        # integer maximum (issue #18): 1e23 used to reach Postgres and answer 400 with details null
        ({"price_min_cents": 10**23}, "price_min_cents"),
        ({"price_max_cents": 10**13 + 1}, "price_max_cents"),
        ({"price_min_cents": "1e3"}, "price_min_cents"),
        # percentages are plain finite numbers
        ({"thc_min": "nan"}, "thc_min"),
        ({"cbd_max": "inf"}, "cbd_max"),
        ({"thc_max": "ten"}, "thc_max"),
        ({"cursor": "x" * 201}, "cursor"),
        ({"state": "Colorado"}, "state"),
        ({"price_min_cents": 500, "price_max_cents": 100}, "price_min_cents"),
        ({"thc_min": 101}, "thc_min"),
        ({"thc_min": 30, "thc_max": 10}, "thc_min"),
        ({"cbd_min": 5, "cbd_max": 1}, "cbd_min"),
        ({"has_promo": "maybe"}, "has_promo"),
        ({"vendor_store_id": "nope"}, "vendor_store_id"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "blue\x00dream"}, "q"),  # Postgres refuses NUL: was a 400 without details
        ({"q": "x" * 101}, "q"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"newest|abc|def").decode()}, "cursor"),
        (
            {
                "cursor": base64.urlsafe_b64encode(
                    b"price_asc|100|1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"
                ).decode()
            },
            "cursor",
        ),
        (
            {"cursor": base64.urlsafe_b64encode(b"newest|nan|1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed").decode()},
            "cursor",
        ),
    ],
)
async def test_bad_input_is_400(
    client: httpx.AsyncClient, buyer: Account, params: dict[str, Any], field: str
) -> None:
    response = await browse(client, buyer, **params)
    assert response.status_code == 400, response.text
    assert error(response)["code"] == "VALIDATION_ERROR"
    assert field in error(response)["details"], error(response)


async def test_distance_sort_is_for_buyers_only(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    response = await browse(client, vendor, sort="distance")
    assert response.status_code == 400
    assert error(response)["details"] == {"sort": "distance is for buyers only"}
    table = await client.get("/api/v1/vendor/products", params={"sort": "distance"}, headers=vendor.headers)
    assert table.status_code == 400


async def test_cursor_of_another_sort_is_refused(
    client: httpx.AsyncClient, buyer: Account, catalog: dict[str, dict[str, Any]]
) -> None:
    first = (await browse(client, buyer, limit=2)).json()["data"]
    assert first["next_cursor"]
    assert (await browse(client, buyer, limit=2, cursor=first["next_cursor"])).status_code == 200
    foreign = await browse(client, buyer, limit=2, sort="price_asc", cursor=first["next_cursor"])
    assert foreign.status_code == 400
    assert error(foreign)["details"] == {"cursor": "is invalid"}
