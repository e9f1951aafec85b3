"""Vendor CRM: customers derived from orders, figures equal to sums over vendor_orders (canceled and
rejected orders counted but never spent), sorts and cursors, hide until the next order, roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from packfinderz.kit.db import Database
from tests.fixtures.catalog import vendor_at
from tests.fixtures.checkout import staff_member, verified_buyer
from tests.fixtures.factories import Account, idem
from tests.social.conftest import error_of, place_order, rows

CUSTOMERS = "/api/v1/vendor/customers"


async def cancel(client: httpx.AsyncClient, buyer: Account, order_id: Any) -> None:
    response = await client.post(
        f"/api/v1/orders/{order_id}/cancel",
        json={"reason": "changed plans"},
        headers={**buyer.headers, **idem()},
    )
    assert response.status_code == 200, response.text


async def reject(client: httpx.AsyncClient, vendor: Account, order_id: Any) -> None:
    response = await client.post(
        f"/api/v1/vendor/orders/{order_id}/decision",
        json={"decision": "reject"},
        headers={**vendor.headers, **idem()},
    )
    assert response.status_code == 200, response.text


async def all_pages(client: httpx.AsyncClient, vendor: Account, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(CUSTOMERS, params=query, headers=vendor.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        items += data["items"]
        cursor = data["next_cursor"]
        if cursor is None:
            return items


async def figures_from_orders(db: Database, vendor: Account) -> dict[str, dict[str, Any]]:
    """The CRM figures computed straight from the orders table."""
    found = await rows(
        db,
        "SELECT buyer_store_id, count(*) AS n, "
        "coalesce(sum(total_cents) FILTER (WHERE status NOT IN ('canceled', 'rejected', 'expired')), 0) "
        "AS spent, "
        "min(created_at) AS first, max(created_at) AS last "
        "FROM vendor_orders WHERE vendor_store_id = :v GROUP BY buyer_store_id",
        v=vendor.store_id,
    )
    return {
        str(r["buyer_store_id"]): {
            "order_count": r["n"],
            "total_spent_cents": int(r["spent"]),
            "first_order_at": r["first"],
            "last_order_at": r["last"],
        }
        for r in found
    }


def parsed(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_count": item["order_count"],
        "total_spent_cents": item["total_spent_cents"],
        "first_order_at": datetime.fromisoformat(item["first_order_at"]),
        "last_order_at": datetime.fromisoformat(item["last_order_at"]),
    }


async def test_figures_equal_sums_over_the_orders_table(client: httpx.AsyncClient, db: Database) -> None:
    vendor, elsewhere = await vendor_at(client, db), await vendor_at(client, db)
    big = await verified_buyer(client, db)
    small = await verified_buyer(client, db)
    gone = await verified_buyer(client, db)
    # big: three orders, one canceled; small: one order; gone: one order, rejected by the vendor.
    await place_order(client, big, vendor, qty=3, price_cents=1500)  # 4 500
    canceled = await place_order(client, big, vendor, qty=10, price_cents=9900)  # 99 000, canceled
    await cancel(client, big, canceled["order_id"])
    await place_order(client, big, vendor, qty=2, price_cents=2000)  # 4 000
    await place_order(client, small, vendor, qty=1, price_cents=700)  # 700
    rejected = await place_order(client, gone, vendor, qty=5, price_cents=5000)  # 25 000, rejected
    await reject(client, vendor, rejected["order_id"])
    await place_order(client, big, elsewhere, qty=50, price_cents=10000)  # another vendor's

    listed = await all_pages(client, vendor, limit=2)
    assert len(listed) == 3
    expected = await figures_from_orders(db, vendor)
    assert {item["buyer"]["id"]: parsed(item) for item in listed} == expected
    by_buyer = {item["buyer"]["id"]: item for item in listed}
    assert (by_buyer[str(big.store_id)]["order_count"], by_buyer[str(big.store_id)]["total_spent_cents"]) == (
        3,
        8500,
    )
    assert (
        by_buyer[str(small.store_id)]["order_count"],
        by_buyer[str(small.store_id)]["total_spent_cents"],
    ) == (1, 700)
    assert (
        by_buyer[str(gone.store_id)]["order_count"],
        by_buyer[str(gone.store_id)]["total_spent_cents"],
    ) == (1, 0)
    assert by_buyer[str(big.store_id)]["buyer"]["company_name"]

    # Default sort: latest order first (gone ordered last, then small, then big).
    assert [i["buyer"]["id"] for i in listed] == [str(gone.store_id), str(small.store_id), str(big.store_id)]
    by_spend = await all_pages(client, vendor, sort="total_spent", limit=1)
    assert [i["buyer"]["id"] for i in by_spend] == [
        str(big.store_id),
        str(small.store_id),
        str(gone.store_id),
    ]
    first = (await client.get(CUSTOMERS, params={"limit": 1}, headers=vendor.headers)).json()["data"]
    assert first["total"] == 3
    mixed = await client.get(
        CUSTOMERS, params={"sort": "total_spent", "cursor": first["next_cursor"]}, headers=vendor.headers
    )
    assert mixed.status_code == 400
    assert error_of(mixed)["details"] == {"cursor": "is invalid"}

    detail = await client.get(f"{CUSTOMERS}/{big.store_id}", headers=vendor.headers)
    assert detail.status_code == 200, detail.text
    data = detail.json()["data"]
    assert parsed(data) == expected[str(big.store_id)]
    assert data["hidden"] is False
    assert data["buyer"]["id"] == str(big.store_id)
    assert data["buyer"]["address"]["city"] == "Oklahoma City"
    recent = data["recent_orders"]
    assert len(recent) == 3
    assert [o["created_at"] for o in recent] == sorted((o["created_at"] for o in recent), reverse=True)
    assert {o["status"] for o in recent} == {"created_pending", "canceled"}
    orders_of_big = await rows(
        db,
        "SELECT id FROM vendor_orders WHERE vendor_store_id = :v AND buyer_store_id = :b",
        v=vendor.store_id,
        b=big.store_id,
    )
    assert {o["id"] for o in recent} == {str(r["id"]) for r in orders_of_big}


async def test_hide_until_the_next_order(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    keep, hide = await verified_buyer(client, db), await verified_buyer(client, db)
    await place_order(client, hide, vendor)
    await place_order(client, keep, vendor)
    before = await rows(db, "SELECT id, status, total_cents FROM vendor_orders ORDER BY id")

    gone = await client.delete(f"{CUSTOMERS}/{hide.store_id}", headers=vendor.headers)
    assert gone.status_code == 204
    listed = (await client.get(CUSTOMERS, headers=vendor.headers)).json()["data"]
    assert [i["buyer"]["id"] for i in listed["items"]] == [str(keep.store_id)]
    assert listed["total"] == 1
    assert str(hide.store_id) not in str(listed)
    detail = (await client.get(f"{CUSTOMERS}/{hide.store_id}", headers=vendor.headers)).json()["data"]
    assert detail["hidden"] is True
    assert detail["order_count"] == 1
    assert await rows(db, "SELECT id, status, total_cents FROM vendor_orders ORDER BY id") == before
    assert (await client.delete(f"{CUSTOMERS}/{hide.store_id}", headers=vendor.headers)).status_code == 204

    await place_order(client, hide, vendor)
    listed = (await client.get(CUSTOMERS, headers=vendor.headers)).json()["data"]
    assert [i["buyer"]["id"] for i in listed["items"]] == [str(hide.store_id), str(keep.store_id)]
    assert listed["items"][0]["order_count"] == 2
    detail = (await client.get(f"{CUSTOMERS}/{hide.store_id}", headers=vendor.headers)).json()["data"]
    assert detail["hidden"] is False


async def test_roles_store_types_and_strangers(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    buyer, stranger = await verified_buyer(client, db), await verified_buyer(client, db)
    await place_order(client, buyer, vendor)
    staff = await staff_member(client, vendor)
    assert (await client.get(CUSTOMERS, headers=staff.headers)).json()["data"]["total"] == 1
    assert (await client.get(f"{CUSTOMERS}/{buyer.store_id}", headers=staff.headers)).status_code == 200
    refused = await client.delete(f"{CUSTOMERS}/{buyer.store_id}", headers=staff.headers)
    assert refused.status_code == 403
    assert error_of(refused)["message"] == "insufficient store role"
    assert await rows(db, "SELECT * FROM vendor_customer_hides") == []

    for method in ("GET", "DELETE"):
        as_buyer = await client.request(method, f"{CUSTOMERS}/{buyer.store_id}", headers=buyer.headers)
        assert as_buyer.status_code == 403
        assert error_of(as_buyer)["message"] == "vendor access required"
        for target in (stranger.store_id, uuid.uuid4()):
            missing = await client.request(method, f"{CUSTOMERS}/{target}", headers=vendor.headers)
            assert missing.status_code == 404, (method, target)
        assert (await client.request(method, f"{CUSTOMERS}/nope", headers=vendor.headers)).status_code == 400
    assert (await client.get(CUSTOMERS, headers=buyer.headers)).status_code == 403
    assert (await client.get(CUSTOMERS)).status_code == 401
    for params in ({"sort": "name"}, {"limit": 0}, {"limit": 101}, {"cursor": "###"}, {"cursor": "a" * 513}):
        assert (await client.get(CUSTOMERS, params=params, headers=vendor.headers)).status_code == 400, params
    empty = await vendor_at(client, db)
    assert (await client.get(CUSTOMERS, headers=empty.headers)).json() == {
        "data": {"items": [], "next_cursor": None, "total": 0}
    }
