"""Wishlist (identity.md §13): idempotent add, delete, cursors on the wishlist row, the visibility gate."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from packfinderz.kit.db import Database
from tests.fixtures.catalog import DALLAS, create_product, vendor_at
from tests.fixtures.checkout import verified_buyer
from tests.fixtures.factories import Account, register_buyer, set_subscription_active
from tests.social.conftest import error_of, execute, scalar

ITEMS = "/api/v1/wishlist/items"


async def add(client: httpx.AsyncClient, account: Account, product_id: Any) -> httpx.Response:
    return await client.post(ITEMS, json={"product_id": str(product_id)}, headers=account.headers)


async def pages(client: httpx.AsyncClient, account: Account, path: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a wishlist list, following next_cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=account.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        found.append(data)
        cursor = data["next_cursor"]
        if cursor is None:
            return found


async def test_add_is_idempotent_and_delete_answers_204_even_when_absent(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await verified_buyer(client, db)
    vendor = await vendor_at(client, db)
    product = await create_product(client, vendor)
    first = await add(client, buyer, product["id"])
    assert first.status_code == 201, first.text
    again = await add(client, buyer, product["id"])
    assert again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    assert first.json()["data"]["product_id"] == product["id"]
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 1

    gone = await client.delete(f"{ITEMS}/{product['id']}", headers=buyer.headers)
    assert gone.status_code == 204
    assert gone.content == b""
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 0
    absent = await client.delete(f"{ITEMS}/{product['id']}", headers=buyer.headers)
    assert absent.status_code == 204
    assert (await add(client, buyer, product["id"])).status_code == 201


async def test_list_shows_product_summaries_newest_first_with_total_and_cursors(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await verified_buyer(client, db)
    vendor = await vendor_at(client, db)
    products = [
        await create_product(client, vendor, title=f"Wish {i}", price_cents=100 * (i + 1)) for i in range(5)
    ]
    for product in products:
        assert (await add(client, buyer, product["id"])).status_code == 201

    found = await pages(client, buyer, "/api/v1/wishlist", limit=2)
    assert [len(p["items"]) for p in found] == [2, 2, 1]
    assert all(p["total"] == 5 for p in found)
    items = [item for page in found for item in page["items"]]
    assert [i["product"]["id"] for i in items] == [p["id"] for p in reversed(products)]
    first = items[0]
    assert first["product"]["title"] == "Wish 4"
    assert first["product"]["price_cents"] == 500
    assert first["product"]["vendor_store_id"] == str(vendor.store_id)
    assert first["product"]["distance_meters"] == 0  # the buyer and vendor share an address
    assert first["product"]["inventory"]["available_qty"] == 100
    assert first["created_at"]

    ids = await pages(client, buyer, "/api/v1/wishlist/ids", limit=3)
    assert [len(p["items"]) for p in ids] == [3, 2]
    assert [i for p in ids for i in p["items"]] == [p["id"] for p in reversed(products)]
    assert "total" not in ids[0]


async def test_cursor_is_on_the_wishlist_row_not_the_product(client: httpx.AsyncClient, db: Database) -> None:
    """Wishlisting an old product after a new one puts it first: the order is the wishlist's."""
    buyer = await verified_buyer(client, db)
    vendor = await vendor_at(client, db)
    older, newer = await create_product(client, vendor), await create_product(client, vendor)
    await add(client, buyer, newer["id"])
    await add(client, buyer, older["id"])
    [page_one, page_two] = await pages(client, buyer, "/api/v1/wishlist", limit=1)
    assert page_one["items"][0]["product"]["id"] == older["id"]
    assert page_two["items"][0]["product"]["id"] == newer["id"]


async def test_bad_input_is_400_and_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await verified_buyer(client, db)
    for body in ({}, {"product_id": "nope"}, {"product_id": str(uuid.uuid4()), "extra": 1}):
        response = await client.post(ITEMS, json=body, headers=buyer.headers)
        assert response.status_code == 400, body
        assert error_of(response)["code"] == "VALIDATION_ERROR"
    for path in ("/api/v1/wishlist", "/api/v1/wishlist/ids"):
        for params in ({"limit": 0}, {"limit": 101}, {"cursor": "!!"}):
            assert (await client.get(path, params=params, headers=buyer.headers)).status_code == 400
    assert (await client.delete(f"{ITEMS}/not-a-uuid", headers=buyer.headers)).status_code == 400
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 0


async def test_missing_inactive_and_hidden_products_are_404(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await verified_buyer(client, db)
    visible = await vendor_at(client, db)
    hidden = await vendor_at(client, db, visible=False)
    texan = await vendor_at(client, db, DALLAS)
    inactive = await create_product(client, visible, is_active=False)
    for product_id in (
        uuid.uuid4(),
        inactive["id"],
        (await create_product(client, hidden))["id"],
        (await create_product(client, texan))["id"],
    ):
        response = await add(client, buyer, product_id)
        assert response.status_code == 404, response.text
        assert error_of(response)["message"] == "product not found"
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 0
    unauthenticated = await client.post(ITEMS, json={"product_id": inactive["id"]})
    assert unauthenticated.status_code == 401


async def test_a_vendor_that_becomes_hidden_leaves_the_list_ids_and_total_until_visible_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await verified_buyer(client, db)
    stays, fades = await vendor_at(client, db), await vendor_at(client, db)
    kept = await create_product(client, stays)
    lost = await create_product(client, fades)
    await add(client, buyer, kept["id"])
    await add(client, buyer, lost["id"])
    assert fades.store_id is not None

    await set_subscription_active(db, fades.store_id, False)
    listed = (await client.get("/api/v1/wishlist", headers=buyer.headers)).json()["data"]
    assert [i["product"]["id"] for i in listed["items"]] == [kept["id"]]
    assert listed["total"] == 1
    ids = (await client.get("/api/v1/wishlist/ids", headers=buyer.headers)).json()["data"]
    assert ids["items"] == [kept["id"]]
    assert lost["id"] not in (await client.get("/api/v1/wishlist/ids", headers=buyer.headers)).text
    # Re-adding the hidden product cannot probe it either; the stored row stays as it was.
    assert (await add(client, buyer, lost["id"])).status_code == 404
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 2

    await set_subscription_active(db, fades.store_id, True)
    ids = (await client.get("/api/v1/wishlist/ids", headers=buyer.headers)).json()["data"]
    assert ids["items"] == [lost["id"], kept["id"]]


async def test_a_deactivated_product_leaves_the_list_and_a_deleted_one_leaves_the_table(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await verified_buyer(client, db)
    vendor = await vendor_at(client, db)
    product = await create_product(client, vendor)
    await add(client, buyer, product["id"])
    await execute(db, "UPDATE products SET is_active = false WHERE id = :id", id=uuid.UUID(product["id"]))
    listed = (await client.get("/api/v1/wishlist", headers=buyer.headers)).json()["data"]
    assert listed == {"items": [], "next_cursor": None, "total": 0}
    await execute(db, "DELETE FROM products WHERE id = :id", id=uuid.UUID(product["id"]))
    assert await scalar(db, "SELECT count(*) FROM wishlist_items") == 0


async def test_vendors_keep_wishlists_too_and_stores_never_share_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Any store type; a vendor's own products always pass, another vendor's through the gate."""
    vendor = await vendor_at(client, db)
    other = await vendor_at(client, db)
    own, theirs = await create_product(client, vendor), await create_product(client, other)
    assert (await add(client, vendor, own["id"])).status_code == 201
    assert (await add(client, vendor, theirs["id"])).status_code == 201
    listed = (await client.get("/api/v1/wishlist", headers=vendor.headers)).json()["data"]
    assert {i["product"]["id"] for i in listed["items"]} == {own["id"], theirs["id"]}
    assert all(i["product"]["distance_meters"] is None for i in listed["items"])

    stranger = await register_buyer(client)
    assert (await client.get("/api/v1/wishlist", headers=stranger.headers)).json()["data"]["total"] == 0
