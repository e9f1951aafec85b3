"""Store reviews (identity.md §14) and the vendor's `ratings` (§8): verified purchase, one per store and
vendor (also under real concurrency), the histogram in the same transaction, author-only delete, the
visibility gate on the list."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.catalog import DALLAS, vendor_at
from tests.fixtures.checkout import staff_member, verified_buyer
from tests.fixtures.factories import Account, register_buyer, set_subscription_active
from tests.fixtures.orders import delivered, new_agent
from tests.social.conftest import error_of, place_order, rows, scalar, set_status, store_ratings

REVIEWS = "/api/v1/reviews"
EMPTY = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


async def bought(
    client: httpx.AsyncClient, db: Database, buyer: Account, vendor: Account, status: str = "delivered"
) -> str:
    """An order of the buyer with the vendor, moved to `status`; its id."""
    order = await place_order(client, buyer, vendor)
    await set_status(db, order["order_id"], status)
    return str(order["order_id"])


async def review(
    client: httpx.AsyncClient, account: Account, vendor: Account | Any, **body: Any
) -> httpx.Response:
    vendor_id = vendor.store_id if isinstance(vendor, Account) else vendor
    payload = {"vendor_store_id": str(vendor_id), "rating": 5, **body}
    return await client.post(REVIEWS, json=payload, headers=account.headers)


async def listing(
    client: httpx.AsyncClient, account: Account, vendor: Account, **params: Any
) -> httpx.Response:
    return await client.get(
        f"/api/v1/stores/{vendor.store_id}/reviews", params=params, headers=account.headers
    )


async def test_a_verified_buyer_reviews_and_the_vendor_ratings_count_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    order_id = await bought(client, db, buyer, vendor, "closed")
    events_before = await scalar(db, "SELECT count(*) FROM outbox_events")
    response = await review(
        client, buyer, vendor, order_id=order_id, rating=4, title="  Solid  ", body="Good packs."
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["review_type"] == "store"
    assert data["buyer_store_id"] == str(buyer.store_id)
    assert data["vendor_store_id"] == str(vendor.store_id)
    assert data["buyer_user_id"] == str(buyer.user_id)
    assert data["order_id"] == order_id
    assert (data["rating"], data["title"], data["body"]) == (4, "Solid", "Good packs.")
    assert data["is_verified_purchase"] is True
    assert data["is_visible"] is True
    assert "product_id" not in data
    assert await store_ratings(client, vendor) == {"count": 1, "average": 4.0, "histogram": {**EMPTY, "4": 1}}
    public = await client.get(f"/api/v1/stores/{vendor.store_id}", headers=buyer.headers)
    assert public.json()["data"]["ratings"]["count"] == 1
    assert await scalar(db, "SELECT count(*) FROM outbox_events") == events_before  # no events


async def test_the_real_delivery_flow_makes_a_purchase_verified(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    agent = await new_agent(client, db, settings)
    placed = await delivered(client, db, agent)
    response = await review(client, placed.buyer, placed.vendors[0], order_id=placed.order_id, rating=3)
    assert response.status_code == 201, response.text


async def test_histogram_after_add_delete_and_re_add(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    first, second = await verified_buyer(client, db), await verified_buyer(client, db)
    for buyer in (first, second):
        await bought(client, db, buyer, vendor)
    one = await review(client, first, vendor, rating=5)
    two = await review(client, second, vendor, rating=2)
    assert (one.status_code, two.status_code) == (201, 201)
    assert await store_ratings(client, vendor) == {
        "count": 2,
        "average": 3.5,
        "histogram": {**EMPTY, "5": 1, "2": 1},
    }
    gone = await client.delete(f"{REVIEWS}/{one.json()['data']['id']}", headers=first.headers)
    assert gone.status_code == 204
    assert await store_ratings(client, vendor) == {"count": 1, "average": 2.0, "histogram": {**EMPTY, "2": 1}}
    again = await review(client, first, vendor, rating=4)
    assert again.status_code == 201
    assert await store_ratings(client, vendor) == {
        "count": 2,
        "average": 3.0,
        "histogram": {**EMPTY, "4": 1, "2": 1},
    }
    gone = await client.delete(f"{REVIEWS}/{two.json()['data']['id']}", headers=second.headers)
    assert gone.status_code == 204
    gone = await client.delete(f"{REVIEWS}/{again.json()['data']['id']}", headers=first.headers)
    assert gone.status_code == 204
    assert await store_ratings(client, vendor) == {"count": 0, "average": None, "histogram": EMPTY}
    [stored] = await rows(db, "SELECT ratings FROM stores WHERE id = :id", id=vendor.store_id)
    assert stored["ratings"] == EMPTY


async def test_average_rounds_half_up_to_two_decimals(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    for rating in (5, 5, 4):  # 14 / 3 = 4.666…
        buyer = await verified_buyer(client, db)
        await bought(client, db, buyer, vendor)
        assert (await review(client, buyer, vendor, rating=rating)).status_code == 201
    assert (await store_ratings(client, vendor))["average"] == 4.67


async def test_purchase_rule_and_targets(client: httpx.AsyncClient, db: Database) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    pending = await bought(client, db, buyer, vendor, "created_pending")
    for status in ("in_transit", "canceled"):
        await bought(client, db, buyer, vendor, status)
    refused = await review(client, buyer, vendor)
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "no completed purchase from this vendor"

    other_vendor = await vendor_at(client, db)
    elsewhere = await bought(client, db, buyer, other_vendor)
    await bought(client, db, buyer, vendor)
    for order_id in (pending, elsewhere, str(uuid.uuid4())):
        response = await review(client, buyer, vendor, order_id=order_id)
        assert response.status_code == 400, order_id
        assert "order_id" in error_of(response)["details"]

    own = await review(client, vendor, vendor)
    assert own.status_code == 400
    assert error_of(own)["details"] == {"vendor_store_id": "cannot review the active store"}
    other_buyer = await register_buyer(client)
    for target in (uuid.uuid4(), other_buyer.store_id):
        missing = await review(client, buyer, target)
        assert missing.status_code == 404, target
    assert await scalar(db, "SELECT count(*) FROM reviews") == 0


async def test_hidden_vendors_are_404_for_writing_and_reading(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await bought(client, db, buyer, vendor)
    assert vendor.store_id is not None
    await set_subscription_active(db, vendor.store_id, False)
    assert (await review(client, buyer, vendor)).status_code == 404
    assert (await listing(client, buyer, vendor)).status_code == 404
    # The vendor itself and other vendors are not buyers: no gate for them.
    assert (await listing(client, vendor, vendor)).status_code == 200
    await set_subscription_active(db, vendor.store_id, True)
    assert (await review(client, buyer, vendor)).status_code == 201
    texan = await vendor_at(client, db, DALLAS)
    assert (await listing(client, buyer, texan)).status_code == 404


async def test_one_review_per_store_and_vendor(client: httpx.AsyncClient, db: Database) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await bought(client, db, buyer, vendor)
    assert (await review(client, buyer, vendor)).status_code == 201
    member = await staff_member(client, buyer)
    for account in (buyer, member):
        duplicate = await review(client, account, vendor, rating=1)
        assert duplicate.status_code == 409
        assert error_of(duplicate)["code"] == "CONFLICT"
        assert error_of(duplicate)["message"] == "review already exists"
    assert (await store_ratings(client, vendor))["histogram"] == {**EMPTY, "5": 1}


async def test_concurrent_reviews_from_two_members_of_one_store_make_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    for _ in range(3):
        buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
        member = await staff_member(client, buyer)
        await bought(client, db, buyer, vendor)
        answers = await asyncio.gather(
            review(client, buyer, vendor, rating=5), review(client, member, vendor, rating=1)
        )
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        [winner] = [a.json()["data"] for a in answers if a.status_code == 201]
        stored = await rows(
            db, "SELECT id, rating FROM reviews WHERE vendor_store_id = :v", v=vendor.store_id
        )
        assert [(str(r["id"]), r["rating"]) for r in stored] == [(winner["id"], winner["rating"])]
        ratings = await store_ratings(client, vendor)
        assert ratings["count"] == 1
        assert ratings["histogram"][str(winner["rating"])] == 1


async def test_body_validation(client: httpx.AsyncClient, db: Database) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await bought(client, db, buyer, vendor)
    base = {"vendor_store_id": str(vendor.store_id), "rating": 5}
    for body, field in (
        ({"rating": 5}, "vendor_store_id"),
        ({"vendor_store_id": str(vendor.store_id)}, "rating"),
        ({**base, "rating": 0}, "rating"),
        ({**base, "rating": 6}, "rating"),
        ({**base, "rating": "5"}, "rating"),
        ({**base, "rating": 4.5}, "rating"),
        ({**base, "title": "t" * 151}, "title"),
        ({**base, "body": "b" * 5001}, "body"),
        ({**base, "order_id": "x"}, "order_id"),
        ({**base, "product_id": str(uuid.uuid4())}, "product_id"),
    ):
        response = await client.post(REVIEWS, json=body, headers=buyer.headers)
        assert response.status_code == 400, body
        assert field in error_of(response)["details"], (body, response.text)
    assert await scalar(db, "SELECT count(*) FROM reviews") == 0
    blank = await review(client, buyer, vendor, title="   ", body="", rating=3)
    assert blank.status_code == 201
    assert (blank.json()["data"]["title"], blank.json()["data"]["body"]) == (None, None)
    assert (await client.post(REVIEWS, json=base)).status_code == 401


async def test_only_the_author_deletes(client: httpx.AsyncClient, db: Database) -> None:
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await bought(client, db, buyer, vendor)
    review_id = (await review(client, buyer, vendor, rating=2)).json()["data"]["id"]
    member = await staff_member(client, buyer)
    forbidden = await client.delete(f"{REVIEWS}/{review_id}", headers=member.headers)
    assert forbidden.status_code == 403
    stranger = await verified_buyer(client, db)
    for account in (stranger, vendor):
        assert (await client.delete(f"{REVIEWS}/{review_id}", headers=account.headers)).status_code == 404
    assert (await client.delete(f"{REVIEWS}/{uuid.uuid4()}", headers=buyer.headers)).status_code == 404
    assert (await client.delete(f"{REVIEWS}/nope", headers=buyer.headers)).status_code == 400
    assert await scalar(db, "SELECT count(*) FROM reviews") == 1
    assert (await store_ratings(client, vendor))["count"] == 1
    assert (await client.delete(f"{REVIEWS}/{review_id}", headers=buyer.headers)).status_code == 204
    assert (await client.delete(f"{REVIEWS}/{review_id}", headers=buyer.headers)).status_code == 404
    assert (await store_ratings(client, vendor))["count"] == 0


async def test_list_is_newest_first_with_total_and_cursors(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    made = []
    for rating in (1, 2, 3, 4, 5):
        buyer = await verified_buyer(client, db)
        await bought(client, db, buyer, vendor)
        made.append((await review(client, buyer, vendor, rating=rating)).json()["data"]["id"])
    reader = await verified_buyer(client, db)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await listing(client, reader, vendor, **params)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["total"] == 5
        seen += [item["id"] for item in data["items"]]
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    assert (await listing(client, reader, vendor, cursor="bad!")).status_code == 400
    assert (await listing(client, reader, vendor, limit=0)).status_code == 400
    unknown = await client.get(f"/api/v1/stores/{uuid.uuid4()}/reviews", headers=reader.headers)
    assert unknown.status_code == 404
    assert (await client.get("/api/v1/stores/nope/reviews", headers=reader.headers)).status_code == 400


async def test_a_whole_number_rating_is_an_integer_and_other_numbers_are_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    """JSON Schema's `integer` includes `4.0` (issue #18); halves, strings and booleans stay refused."""
    buyer, vendor = await verified_buyer(client, db), await vendor_at(client, db)
    await bought(client, db, buyer, vendor)
    for rating in (4.5, "4", True, 6.0, 0.0):
        refused = await review(client, buyer, vendor, rating=rating)
        assert refused.status_code == 400, rating
        assert "rating" in error_of(refused)["details"], rating
    assert await scalar(db, "SELECT count(*) FROM reviews") == 0
    created = await review(client, buyer, vendor, rating=4.0)
    assert created.status_code == 201, created.text
    assert created.json()["data"]["rating"] == 4
    assert await scalar(db, "SELECT rating FROM reviews") == 4
