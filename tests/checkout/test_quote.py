"""POST/GET /api/v1/cart (commerce.md §6): checks as warnings, pricing, groups, persistence, refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from packfinderz.ads.tokens import mint
from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.fixtures.catalog import TULSA, create_product, vendor_at
from tests.fixtures.checkout import checkout, line, market, post_quote, quote, staff_member, verified_buyer
from tests.fixtures.db import execute, rows, scalar, stock
from tests.fixtures.factories import auth_headers, set_store_kyc, set_subscription_active


def _warnings(entry: dict[str, Any]) -> list[str]:
    return [w["type"] for w in entry["warnings"]]


async def _worked_example(client: httpx.AsyncClient, db: Database) -> tuple[Any, ...]:
    m = await market(client, db)
    p1 = await create_product(
        client,
        m.vendor_a,
        price_cents=1000,
        volume_discounts=[{"min_qty": 10, "discount_percent": 10}, {"min_qty": 25, "discount_percent": 15}],
    )
    p2 = await create_product(client, m.vendor_a, price_cents=2500)
    p3 = await create_product(
        client, m.vendor_b, price_cents=5, volume_discounts=[{"min_qty": 3, "discount_percent": 10}]
    )
    return m, p1, p2, p3


async def test_worked_example_is_priced_grouped_and_persisted(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, p3 = await _worked_example(client, db)
    before = [await stock(db, p["id"]) for p in (p1, p2, p3)]
    data = await quote(
        client,
        m.buyer,
        line(p1, 12),
        line(p2, 2),
        line(p3, 5),
        vendor_promos=[{"vendor_store_id": str(m.vendor_a.store_id), "code": "SPRING"}],
    )
    items = {i["product_id"]: i for i in data["items"]}
    assert [i["product_id"] for i in data["items"]] == [p1["id"], p2["id"], p3["id"]]
    expected = {
        p1["id"]: (12_000, 1_200, 10_800, 900),
        p2["id"]: (5_000, 0, 5_000, 2_500),
        p3["id"]: (25, 3, 22, 4),
    }
    for product_id, (subtotal, discount, total, effective) in expected.items():
        item = items[product_id]
        assert (
            item["line_subtotal_cents"],
            item["line_discounts_cents"],
            item["line_total_cents"],
            item["effective_unit_price_cents"],
        ) == (subtotal, discount, total, effective)
        assert item["status"] == "ok"
        assert item["warnings"] == []
    assert items[p1["id"]]["applied_volume_discount"] == {
        "label": "volume tier 10+",
        "percent": 10.0,
        "amount_cents": 1200,
    }
    assert items[p3["id"]]["applied_volume_discount"]["amount_cents"] == 3
    assert items[p1["id"]]["max_qty"] is None
    assert items[p1["id"]]["vendor_store_name"] == m.vendor_a.body["store"]["company_name"]
    groups = {g["vendor_store_id"]: g for g in data["vendor_groups"]}
    group_a, group_b = groups[str(m.vendor_a.store_id)], groups[str(m.vendor_b.store_id)]
    assert (group_a["subtotal_cents"], group_a["discounts_cents"], group_a["total_cents"]) == (
        17_000,
        1_200,
        15_800,
    )
    assert _warnings(group_a) == ["invalid_promo"]
    assert group_a["status"] == "ok"
    assert group_a["promo"] is None
    assert group_a["promo_discount_cents"] == 0
    assert (group_b["subtotal_cents"], group_b["discounts_cents"], group_b["total_cents"]) == (25, 3, 22)
    assert (data["subtotal_cents"], data["discounts_cents"], data["total_cents"]) == (17_025, 1_203, 15_822)
    assert data["status"] == "active"
    assert data["currency"] == "USD"
    assert data["checkout_group_id"] is None
    assert data["shipping_address"]["city"] == "Oklahoma City"
    assert data["billing_address"] is None
    assert data["payment_method"] is None

    cart = (await rows(db, "SELECT * FROM cart_records WHERE id = :id", id=uuid.UUID(data["id"])))[0]
    assert cart["valid_until"] - cart["updated_at"] == timedelta(minutes=15)
    assert (cart["subtotal_cents"], cart["discounts_cents"], cart["total_cents"]) == (17_025, 1_203, 15_822)
    stored = await rows(
        db,
        "SELECT product_id, quantity, line_total_cents, status FROM cart_items WHERE cart_id = :c",
        c=cart["id"],
    )
    assert {(str(r["product_id"]), r["quantity"], r["line_total_cents"]) for r in stored} == {
        (p1["id"], 12, 10_800),
        (p2["id"], 2, 5_000),
        (p3["id"], 5, 22),
    }
    assert await scalar(db, "SELECT count(*) FROM cart_vendor_groups WHERE cart_id = :c", c=cart["id"]) == 2
    # A quote never touches inventory.
    assert [await stock(db, p["id"]) for p in (p1, p2, p3)] == before

    read = await client.get("/api/v1/cart", headers=m.buyer.headers)
    assert read.status_code == 200
    assert read.json()["data"] == data


async def test_requote_replaces_the_cart_and_reports_price_changes(
    client: httpx.AsyncClient, db: Database
) -> None:
    m, p1, p2, _ = await _worked_example(client, db)
    first = await quote(client, m.buyer, line(p1, 1), line(p2, 1))
    await execute(db, "UPDATE products SET price_cents = 1200 WHERE id = :id", id=uuid.UUID(p1["id"]))
    second = await quote(client, m.buyer, line(p1, 2))
    assert second["id"] == first["id"]
    assert [i["product_id"] for i in second["items"]] == [p1["id"]]
    assert second["items"][0]["warnings"] == [
        {"type": "price_changed", "message": "unit price changed from 1000 to 1200 cents"}
    ]
    assert second["items"][0]["status"] == "ok"
    assert second["total_cents"] == 2400
    assert (
        await scalar(db, "SELECT count(*) FROM cart_items WHERE cart_id = :c", c=uuid.UUID(first["id"])) == 1
    )
    assert await scalar(db, "SELECT count(*) FROM cart_records") == 1
    # Unchanged prices raise nothing.
    third = await quote(client, m.buyer, line(p1, 2))
    assert third["items"][0]["warnings"] == []


async def test_get_does_not_extend_validity(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, _, _ = await _worked_example(client, db)
    data = await quote(client, m.buyer, line(p1, 1))
    await execute(db, "UPDATE cart_records SET valid_until = now() - interval '1 minute'")
    read = await client.get("/api/v1/cart", headers=m.buyer.headers)
    assert read.status_code == 200
    assert read.json()["data"]["valid_until"] < data["valid_until"]


async def test_get_without_active_cart_is_404(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await verified_buyer(client, db)
    response = await client.get("/api/v1/cart", headers=buyer.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_item_checks_clamp_and_flag_without_failing(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    moq = await create_product(client, m.vendor_a, moq=5, price_cents=100)
    capped = await create_product(client, m.vendor_a, moq=1, max_qty=3, price_cents=100)
    scarce = await create_product(client, m.vendor_a, price_cents=100, inventory={"available_qty": 2})
    inactive = await create_product(client, m.vendor_a, price_cents=100, is_active=False)
    foreign = await create_product(client, m.vendor_b, price_cents=100)
    data = await quote(
        client,
        m.buyer,
        line(moq, 2),
        line(capped, 9),
        line(scarce, 3),
        line(inactive, 1),
        line(foreign, 1, vendor=m.vendor_a),  # sold by B, asked from A
    )
    items = {i["product_id"]: i for i in data["items"]}
    assert (items[moq["id"]]["quantity"], _warnings(items[moq["id"]]), items[moq["id"]]["status"]) == (
        5,
        ["clamped_to_moq"],
        "ok",
    )
    assert (items[capped["id"]]["quantity"], _warnings(items[capped["id"]])) == (3, ["clamped_to_max"])
    assert items[capped["id"]]["max_qty"] == 3
    assert (items[scarce["id"]]["status"], _warnings(items[scarce["id"]])) == (
        "not_available",
        ["not_available"],
    )
    assert items[scarce["id"]]["warnings"][0]["message"] == "only 2 available, 3 requested"
    assert (items[inactive["id"]]["status"], _warnings(items[inactive["id"]])) == (
        "not_available",
        ["not_available"],
    )
    assert (items[foreign["id"]]["status"], _warnings(items[foreign["id"]])) == (
        "invalid",
        ["vendor_mismatch"],
    )
    assert items[foreign["id"]]["vendor_store_id"] == str(m.vendor_a.store_id)
    # Only `ok` items count: 5 x 100 + 3 x 100.
    assert data["subtotal_cents"] == 800
    [group] = data["vendor_groups"]
    assert (group["status"], group["subtotal_cents"]) == ("ok", 800)


async def test_warning_order_is_clamp_then_availability_then_price(
    client: httpx.AsyncClient, db: Database
) -> None:
    m = await market(client, db)
    product = await create_product(
        client, m.vendor_a, moq=4, price_cents=100, inventory={"available_qty": 10}
    )
    await quote(client, m.buyer, line(product, 4))
    await execute(
        db,
        "UPDATE products SET price_cents = 150 WHERE id = :id;",
        id=uuid.UUID(product["id"]),
    )
    await execute(
        db, "UPDATE inventory_items SET available_qty = 1 WHERE product_id = :id", id=uuid.UUID(product["id"])
    )
    data = await quote(client, m.buyer, line(product, 1))
    assert _warnings(data["items"][0]) == ["clamped_to_moq", "not_available", "price_changed"]


async def test_duplicate_lines_are_merged(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a, price_cents=100)
    data = await quote(client, m.buyer, line(product, 2), line(product, 3))
    assert [(i["product_id"], i["quantity"]) for i in data["items"]] == [(product["id"], 5)]


@pytest.mark.parametrize("change", ["suspended", "pending", "unsubscribed", "far"])
async def test_hidden_vendor_is_a_soft_failure(client: httpx.AsyncClient, db: Database, change: str) -> None:
    """issue #17: one reason for every hidden vendor (was vendor_suspended, license_invalid,
    vendor_invalid or out_of_delivery_radius, which told the buyer why; tests/security)."""
    m = await market(client, db)
    hidden = await vendor_at(client, db, TULSA if change == "far" else None)
    assert hidden.store_id is not None
    product = await create_product(client, hidden, price_cents=100)
    fine = await create_product(client, m.vendor_a, price_cents=100)
    if change == "suspended":
        await set_store_kyc(db, hidden.store_id, "suspended")
    elif change == "pending":
        await set_store_kyc(db, hidden.store_id, "pending_verification")
    elif change == "unsubscribed":
        await set_subscription_active(db, hidden.store_id, False)
    else:
        await execute(
            db, "UPDATE stores SET delivery_radius_meters = 50000 WHERE id = :id", id=hidden.store_id
        )
    data = await quote(client, m.buyer, line(product, 1), line(fine, 1))
    items = {i["product_id"]: i for i in data["items"]}
    assert (items[product["id"]]["status"], _warnings(items[product["id"]])) == (
        "invalid",
        ["vendor_unavailable"],
    )
    assert items[fine["id"]]["status"] == "ok"
    groups = {g["vendor_store_id"]: g for g in data["vendor_groups"]}
    assert groups[str(hidden.store_id)]["status"] == "invalid"
    assert _warnings(groups[str(hidden.store_id)]) == ["vendor_unavailable"]
    assert groups[str(hidden.store_id)]["total_cents"] == 0
    assert data["total_cents"] == 100


async def test_visible_vendor_without_ok_items_is_an_invalid_group(
    client: httpx.AsyncClient, db: Database
) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a, price_cents=100, inventory={"available_qty": 0})
    data = await quote(client, m.buyer, line(product, 1))
    [group] = data["vendor_groups"]
    assert group["status"] == "invalid"
    assert group["warnings"] == [{"type": "vendor_invalid", "message": "no valid items for vendor"}]


async def test_staff_may_quote(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    staff = await staff_member(client, m.buyer)
    response = await post_quote(client, staff, {"items": [line(product, 1)]})
    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/cart", headers=staff.headers)).json()["data"]["id"] == response.json()[
        "data"
    ]["id"]


async def test_converted_cart_is_never_modified(client: httpx.AsyncClient, db: Database) -> None:
    m, p1, _, _ = await _worked_example(client, db)
    first = await quote(client, m.buyer, line(p1, 1))
    await checkout(client, m.buyer, first["id"])
    snapshot = await rows(db, "SELECT * FROM cart_items WHERE cart_id = :c", c=uuid.UUID(first["id"]))
    second = await quote(client, m.buyer, line(p1, 3))
    assert second["id"] != first["id"]
    assert await rows(db, "SELECT * FROM cart_items WHERE cart_id = :c", c=uuid.UUID(first["id"])) == snapshot
    assert (
        await scalar(db, "SELECT status FROM cart_records WHERE id = :c", c=uuid.UUID(first["id"]))
        == "converted"
    )


async def test_ad_tokens_are_filtered_deduplicated_and_ranked(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    secret = settings.effective_ads_token_secret
    now = datetime.now(UTC)
    ad = uuid.uuid4()

    def token(event_type: str, minutes_ago: int, **overrides: Any) -> str:
        fields: dict[str, Any] = {
            "token_id": uuid.uuid4(),
            "ad_id": ad,
            "creative_id": uuid.uuid4(),
            "placement": "store",
            "target_type": "store",
            "target_id": m.vendor_a.store_id,
            "buyer_store_id": m.buyer.store_id,
            "event_type": event_type,
            "occurred_at": now - timedelta(minutes=minutes_ago),
            "expires_at": now + timedelta(days=30),
            "request_id": str(uuid.uuid4()),
            "bid_cents": 100,
            "destination_url": "https://example.com",
            **overrides,
        }
        return mint(overrides.pop("secret", secret), fields)

    newest_view = token("impression", 1)
    older_view = token("impression", 5)
    click = token("click", 10)
    dropped = [
        token("impression", 1, buyer_store_id=uuid.uuid4()),  # another buyer's
        token("impression", 1, expires_at=now - timedelta(seconds=5)),  # expired
        mint(
            "another-secret-that-is-long-enough-for-hs256",
            {"token_id": uuid.uuid4(), "occurred_at": now, "expires_at": now},
        ),
        "not-a-token",
    ]
    data = await quote(
        client, m.buyer, line(product, 1), ad_tokens=[older_view, *dropped, click, newest_view]
    )
    assert data["ad_tokens"] == [click, newest_view]
    assert data["items"][0]["status"] == "ok"


# --- refusals -----------------------------------------------------------------------------------------


async def _nothing_stored(db: Database) -> None:
    assert await scalar(db, "SELECT count(*) FROM cart_records") == 0
    assert await scalar(db, "SELECT count(*) FROM cart_items") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({}, "items"),
        (
            {"items": [{"product_id": "x", "vendor_store_id": str(uuid.uuid4()), "quantity": 1}]},
            "items.0.product_id",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4()), "quantity": 0}
                ]
            },
            "items.0.quantity",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4()), "quantity": "2"}
                ]
            },
            "items.0.quantity",
        ),
        (
            {"items": [{"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4())}]},
            "items.0.quantity",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4()), "quantity": 2.5}
                ]
            },
            "items.0.quantity",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4()), "quantity": True}
                ]
            },
            "items.0.quantity",
        ),
        (
            {
                "items": [
                    {
                        "product_id": str(uuid.uuid4()),
                        "vendor_store_id": str(uuid.uuid4()),
                        "quantity": 1,
                        "x": 1,
                    }
                ]
            },
            "items.0.x",
        ),
        (
            {
                "items": [
                    {"product_id": str(uuid.uuid4()), "vendor_store_id": str(uuid.uuid4()), "quantity": 1}
                ],
                "coupon": "X",
            },
            "coupon",
        ),
    ],
)
async def test_bad_body_is_400(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str
) -> None:
    buyer = await verified_buyer(client, db)
    response = await post_quote(client, buyer, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    await _nothing_stored(db)


async def test_malformed_json_is_400(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await verified_buyer(client, db)
    response = await client.post(
        "/api/v1/cart",
        content=b'{"items": [',
        headers={**buyer.headers, "Content-Type": "application/json", "Idempotency-Key": "k1"},
    )
    assert response.status_code == 400
    await _nothing_stored(db)


async def test_promo_for_a_vendor_without_items_is_400(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    response = await post_quote(
        client,
        m.buyer,
        {
            "items": [line(product, 1)],
            "vendor_promos": [{"vendor_store_id": str(m.vendor_b.store_id), "code": "X"}],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "vendor_promos.0.vendor_store_id": "has no items in this cart"
    }
    await _nothing_stored(db)


async def test_missing_idempotency_key_is_400(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    response = await client.post("/api/v1/cart", json={"items": [line(product, 1)]}, headers=m.buyer.headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    await _nothing_stored(db)


async def test_unknown_product_or_vendor_is_404(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    unknown_product = {
        "product_id": str(uuid.uuid4()),
        "vendor_store_id": str(m.vendor_a.store_id),
        "quantity": 1,
    }
    unknown_vendor = {"product_id": product["id"], "vendor_store_id": str(uuid.uuid4()), "quantity": 1}
    buyer_as_vendor = {"product_id": product["id"], "vendor_store_id": str(m.buyer.store_id), "quantity": 1}
    for bad, message in (
        (unknown_product, "product not found"),
        (unknown_vendor, "vendor not found"),
        (buyer_as_vendor, "vendor not found"),
    ):
        response = await post_quote(client, m.buyer, {"items": [line(product, 1), bad]})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["message"] == message
    await _nothing_stored(db)


async def test_only_verified_buyers_may_quote(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    product = await create_product(client, m.vendor_a)
    # A vendor cannot buy, not even its own products.
    as_vendor = await post_quote(client, m.vendor_a, {"items": [line(product, 1)]})
    assert as_vendor.status_code == 403
    assert as_vendor.json()["error"]["message"] == "buyer access required"
    assert (await client.get("/api/v1/cart", headers=m.vendor_a.headers)).status_code == 403
    assert m.buyer.store_id is not None
    for status in ("pending_verification", "rejected", "expired", "suspended"):
        await set_store_kyc(db, m.buyer.store_id, status)
        response = await post_quote(client, m.buyer, {"items": [line(product, 1)]})
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "buyer verification required"
    assert (await client.get("/api/v1/cart", headers=auth_headers("nope"))).status_code == 401
    await _nothing_stored(db)


async def test_quote_statement_budget(client: httpx.AsyncClient, db: Database, app: Any) -> None:
    m, p1, p2, p3 = await _worked_example(client, db)
    await quote(client, m.buyer, line(p1, 1))
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await quote(client, m.buyer, line(p1, 12), line(p2, 2), line(p3, 5))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 10, "\n".join(s[:90] for s in statements)
