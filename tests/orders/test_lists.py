"""Order lists and detail from each perspective, filters, pagination, storefront history and totals."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from packfinderz.kit.db import Database
from tests.fixtures.checkout import checkout, line, quote
from tests.fixtures.db import execute, statements
from tests.fixtures.orders import decide, decide_line, fulfil_all, ok, place, post


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    return await ok(await client.get("/api/v1/orders", params=params, headers=headers))


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_each_side_lists_its_orders_with_the_other_party(
    client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((3, 2), (4,)))
    vendor_a, vendor_b = placed.vendors
    order_a, order_b = placed.order_of(vendor_a), placed.order_of(vendor_b)
    await ok(
        await decide_line(
            client, vendor_a, order_a["order_id"], order_a["items"][1]["line_item_id"], "reject"
        )
    )

    mine = await listed(client, placed.buyer.headers)
    assert mine["total"] == 2
    by_id = {item["id"]: item for item in mine["items"]}
    item = by_id[order_a["order_id"]]
    assert "buyer" not in item
    assert item["vendor"]["id"] == str(vendor_a.store_id)
    assert set(item["vendor"]) == {"id", "company_name", "dba_name", "logo_url"}
    assert (item["total_items"], item["total_cents"], item["payment_status"]) == (5, 3000, "unpaid")
    assert item["order_number"] == order_a["order_number"]
    assert (item["status"], item["fulfillment_status"], item["shipping_status"]) == (
        "partially_accepted",
        "pending",
        "pending",
    )

    theirs = await listed(client, vendor_a.headers)
    assert ids(theirs) == [order_a["order_id"]]
    assert theirs["total"] == 1
    assert theirs["items"][0]["buyer"]["id"] == str(placed.buyer.store_id)
    assert "vendor" not in theirs["items"][0]
    assert ids(await listed(client, vendor_b.headers)) == [order_b["order_id"]]


async def test_filters_and_pages(client: httpx.AsyncClient, db: Database) -> None:
    first = await place(client, db, ((1,),))
    vendor, buyer = first.vendors[0], first.buyer
    product = first.products[0][0]
    order_ids = [first.order_id]
    for _ in range(3):
        cart = await quote(client, buyer, line(product, 1))
        order_ids.append((await checkout(client, buyer, cart["id"]))["vendor_orders"][0]["order_id"])
    await ok(await decide(client, vendor, order_ids[0], "accept"))
    ready = await ok(await client.get(f"/api/v1/orders/{order_ids[1]}", headers=vendor.headers))
    await fulfil_all(
        client,
        vendor,
        {
            "order_id": order_ids[1],
            "items": [{"line_item_id": x["id"], "status": x["status"]} for x in ready["line_items"]],
        },
    )
    await ok(await post(client, f"/api/v1/orders/{order_ids[2]}/cancel", buyer.headers))
    await execute(
        db,
        "UPDATE vendor_orders SET created_at = '2024-01-01T00:00:00Z' WHERE id = :id",
        id=uuid.UUID(order_ids[3]),
    )

    page = await listed(client, buyer.headers, limit=2)
    assert ids(page) == [order_ids[2], order_ids[1]]
    assert page["total"] == 4
    rest = await listed(client, buyer.headers, limit=2, cursor=page["next_cursor"])
    assert ids(rest) == [order_ids[0], order_ids[3]]
    assert rest["next_cursor"] is None

    assert ids(await listed(client, buyer.headers, order_status="canceled")) == [order_ids[2]]
    assert ids(await listed(client, buyer.headers, fulfillment_status="fulfilled")) == [order_ids[1]]
    assert ids(await listed(client, buyer.headers, shipping_status="pending", limit=10))[-1] == order_ids[3]
    assert set(ids(await listed(client, buyer.headers, payment_status="unpaid"))) == set(order_ids)
    old = await listed(client, buyer.headers, date_to="2024-06-01T00:00:00Z")
    assert (ids(old), old["total"]) == ([order_ids[3]], 1)
    assert order_ids[3] not in ids(await listed(client, buyer.headers, date_from="2024-06-01T00:00:00+00:00"))
    exact = await listed(
        client, buyer.headers, date_from="2024-01-01T00:00:00Z", date_to="2024-01-01T00:00:00Z"
    )
    assert ids(exact) == [order_ids[3]]  # both bounds inclusive

    await execute(
        db,
        "UPDATE stores SET company_name = 'Greenleaf Supply', dba_name = 'Leafy Wholesale' WHERE id = :id",
        id=vendor.store_id,
    )
    number = str((await listed(client, buyer.headers, order_status="accepted"))["items"][0]["order_number"])
    assert ids(await listed(client, buyer.headers, q=number)) == [order_ids[0]]
    assert len(ids(await listed(client, buyer.headers, q="greenLEAF"))) == 4
    assert len(ids(await listed(client, buyer.headers, q="wholesale"))) == 4
    assert ids(await listed(client, buyer.headers, q="100%")) == []  # wildcards are literal
    assert ids(await listed(client, buyer.headers, q="no such store")) == []

    needs_action = await listed(client, vendor.headers, actionable_statuses="created_pending,accepted")
    assert ids(needs_action) == [order_ids[0], order_ids[3]]
    repeated = await client.get(
        "/api/v1/orders?actionable_statuses=accepted&actionable_statuses=ready_for_dispatch",
        headers=vendor.headers,
    )
    assert ids(await ok(repeated)) == [order_ids[1], order_ids[0]]

    for params, field in (
        ({"actionable_statuses": "accepted"}, "actionable_statuses"),  # buyers have no such view
        ({"order_status": "lost"}, "order_status"),
        ({"payment_status": "free"}, "payment_status"),
        ({"date_from": "yesterday"}, "date_from"),
        # plain numbers were read as Unix timestamps, dates without time or offset as UTC (issue #18)
        ({"date_to": "0.5"}, "date_to"),
        ({"date_from": "1700000000"}, "date_from"),
        ({"date_from": "2025-01-01"}, "date_from"),
        ({"date_to": "2025-01-01T00:00:00"}, "date_to"),
        ({"date_from": "2025-02-01T00:00:00Z", "date_to": "2025-01-01T00:00:00Z"}, "date_from"),
        ({"limit": 0}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"q": ""}, "q"),
        ({"q": "green\x00leaf"}, "q"),
    ):
        response = await client.get("/api/v1/orders", params=params, headers=buyer.headers)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["details"], (params, response.text)
    bad = await client.get(
        "/api/v1/orders", params={"actionable_statuses": "accepted,lost"}, headers=vendor.headers
    )
    assert bad.status_code == 400


async def test_detail_for_each_party(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3,), (2,)))
    vendor_a, vendor_b = placed.vendors
    order_a = placed.order_of(vendor_a)
    path = f"/api/v1/orders/{order_a['order_id']}"
    for account in (placed.buyer, vendor_a):
        detail = await ok(await client.get(path, headers=account.headers))
        assert set(detail) == {
            "order",
            "line_items",
            "payment_intent",
            "buyer_store",
            "vendor_store",
            "active_assignment",
            "manifest",
        }
        assert "cart_id" not in detail["order"]
        assert "ad_token" not in detail["order"]
        assert detail["order"]["id"] == order_a["order_id"]
        assert [x["id"] for x in detail["line_items"]] == [x["line_item_id"] for x in order_a["items"]]
        assert detail["payment_intent"]["amount_cents"] == order_a["total_cents"]
        assert detail["vendor_store"]["id"] == str(vendor_a.store_id)
        assert detail["buyer_store"]["address"]["state"] == "OK"
        assert (detail["active_assignment"], detail["manifest"]) == (None, None)
    denied = await client.get(path, headers=vendor_b.headers)
    assert denied.status_code == 404  # issue #17: another store's order does not exist for it (was 403)
    assert (
        await client.get(f"/api/v1/orders/{uuid.uuid4()}", headers=placed.buyer.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/orders/nope", headers=placed.buyer.headers)).status_code == 400
    assert (await client.get(path)).status_code == 401


async def test_storefront_history_and_totals(client: httpx.AsyncClient, db: Database) -> None:
    placed = await place(client, db, ((3, 2), (4,)))
    vendor_a, vendor_b = placed.vendors
    order_a = placed.order_of(vendor_a)
    await ok(await post(client, f"/api/v1/orders/{order_a['order_id']}/cancel", placed.buyer.headers))
    cart = await quote(client, placed.buyer, line(placed.products[0][0], 1))
    again = (await checkout(client, placed.buyer, cart["id"]))["vendor_orders"][0]

    history = await ok(
        await client.get(f"/api/v1/stores/{vendor_a.store_id}/orders", headers=placed.buyer.headers)
    )
    assert ids(history) == [again["order_id"], order_a["order_id"]]
    assert history["total"] == 2
    assert history["items"][0]["vendor"]["id"] == str(vendor_a.store_id)
    totals = await ok(
        await client.get(f"/api/v1/stores/{vendor_a.store_id}/orders/totals", headers=placed.buyer.headers)
    )
    assert totals == {
        "total_orders": 2,
        "total_items": 5 + 1,
        "total_spent_cents": 0 + again["total_cents"],  # a canceled order's total drops to 0
        "total_discounts_cents": 0,
    }
    other = await ok(
        await client.get(f"/api/v1/stores/{vendor_b.store_id}/orders/totals", headers=placed.buyer.headers)
    )
    assert (other["total_orders"], other["total_items"]) == (1, 4)

    assert (
        await client.get(f"/api/v1/stores/{placed.buyer.store_id}/orders", headers=placed.buyer.headers)
    ).status_code == 400
    assert (
        await client.get(f"/api/v1/stores/{uuid.uuid4()}/orders/totals", headers=placed.buyer.headers)
    ).status_code == 404
    denied = await client.get(f"/api/v1/stores/{vendor_a.store_id}/orders", headers=vendor_b.headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "buyer access required"


async def test_order_list_statements_do_not_grow_with_the_page(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    placed = await place(client, db, ((1,),))
    product = placed.products[0][0]
    for _ in range(5):
        cart = await quote(client, placed.buyer, line(product, 1))
        await checkout(client, placed.buyer, cart["id"])
    counts = []
    for limit in (1, 6):
        with statements(app) as seen:
            assert len(ids(await listed(client, placed.buyer.headers, limit=limit))) == limit
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
