"""Vendor product writes (commerce.md §4.1-§4.3): create, update, delete, roles, validation, media."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from packfinderz.kit.security import Passwords
from tests.fixtures.catalog import create_product, error, product_body, vendor_at
from tests.fixtures.checkout import line, quote
from tests.fixtures.compliance import PDF, PNG, uploaded
from tests.fixtures.db import tuples
from tests.fixtures.factories import (
    Account,
    accept_invitations,
    idem,
    invite,
    login,
    make_vendor_visible,
    register_buyer,
    set_store_kyc,
    switch_store,
)


async def count(db: Database, table: str) -> int:
    return int((await tuples(db, f"SELECT count(*) FROM {table}"))[0][0])


async def post(
    client: httpx.AsyncClient, vendor: Account, body: Any, key: str | None = None
) -> httpx.Response:
    return await client.post("/api/v1/vendor/products", json=body, headers={**vendor.headers, **idem(key)})


async def patch(client: httpx.AsyncClient, vendor: Account, product_id: str, body: Any) -> httpx.Response:
    return await client.patch(f"/api/v1/vendor/products/{product_id}", json=body, headers=vendor.headers)


@pytest.fixture
async def vendor(client: httpx.AsyncClient, db: Database) -> Account:
    return await vendor_at(client, db)


# --- create ----------------------------------------------------------------------------------------


async def test_create_writes_product_inventory_tiers(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    body = product_body(
        subtitle="  Small batch  ",
        body_html="<p onclick='x()'>Dense <b>buds</b><script>alert(1)</script></p>",
        brand="Acme",
        strain="Blue Dream",
        classification="hybrid",
        thc_percent=21.5,
        cbd_percent=0.4,
        max_qty=50,
        moq=2,
        compare_at_price_cents=3000,
        volume_discounts=[{"min_qty": 10, "discount_percent": 5}, {"min_qty": 25, "discount_percent": 12.5}],
        inventory={"available_qty": 40, "low_stock_threshold": 4},
        barcode="",
    )
    response = await post(client, vendor, body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["sku"] == body["sku"]
    assert data["title"] == body["title"]
    assert data["subtitle"] == "Small batch"
    assert data["body_html"] == "<p>Dense <b>buds</b></p>"  # sanitized
    assert data["barcode"] is None  # blank means null
    assert data["thc_percent"] == 21.5
    assert data["cbd_percent"] == 0.4
    assert data["has_promo"] is True
    assert data["coa_added"] is False
    assert data["is_active"] is True
    assert [(t["min_qty"], t["discount_percent"]) for t in data["volume_discounts"]] == [
        (25, 12.5),
        (10, 5.0),
    ]
    assert data["inventory"]["available_qty"] == 40
    assert data["inventory"]["reserved_qty"] == 0
    assert data["vendor"]["store_id"] == str(vendor.store_id)
    assert "store_id" not in data
    assert "search_tsv" not in data
    found = await tuples(db, "SELECT store_id, vendor_state FROM products WHERE id = :id", id=data["id"])
    assert found == [(vendor.store_id, "OK")]
    assert await count(db, "product_volume_discounts") == 2
    assert await count(db, "inventory_items") == 1


async def test_create_is_idempotent(client: httpx.AsyncClient, db: Database, vendor: Account) -> None:
    body = product_body()
    first = await post(client, vendor, body, key="create-1")
    replay = await post(client, vendor, body, key="create-1")
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await count(db, "products") == 1
    reused = await post(client, vendor, product_body(), key="create-1")
    assert reused.status_code == 422
    assert error(reused)["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = await client.post("/api/v1/vendor/products", json=product_body(), headers=vendor.headers)
    assert missing.status_code == 400
    assert "Idempotency-Key" in error(missing)["details"]
    assert await count(db, "products") == 1


async def test_sku_taken_in_store_is_409_but_free_elsewhere(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    await create_product(client, vendor, sku="SAME-1")
    taken = await post(client, vendor, product_body(sku="SAME-1"))
    assert taken.status_code == 409
    assert error(taken)["details"] == {"constraint": "uq_products_store_id_sku"}
    other = await vendor_at(client, db)
    await create_product(client, other, sku="SAME-1")
    assert await count(db, "products") == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sku": "   "}, "sku"),
        ({"title": ""}, "title"),
        ({"category": "shoes"}, "category"),
        ({"unit": "kilo"}, "unit"),
        ({"classification": "ruderalis"}, "classification"),
        ({"feelings": []}, "feelings"),
        ({"flavors": ["salty"]}, "flavors.0"),
        ({"usage": ["sleep", "sleep"]}, "usage"),
        ({"moq": 0}, "moq"),
        ({"moq": "3"}, "moq"),
        ({"price_cents": 0}, "price_cents"),
        ({"price_cents": 12.5}, "price_cents"),
        ({"compare_at_price_cents": -1}, "compare_at_price_cents"),
        ({"thc_percent": 100.5}, "thc_percent"),
        ({"thc_percent": "24.5"}, "thc_percent"),  # a number, never a string (issue #18)
        ({"thc_percent": 24.555}, "thc_percent"),  # two decimals at most (multipleOf 0.01)
        (
            {"volume_discounts": [{"min_qty": 5, "discount_percent": "5"}]},
            "volume_discounts.0.discount_percent",
        ),
        ({"cbd_percent": -1}, "cbd_percent"),
        ({"is_active": "yes"}, "is_active"),
        ({"inventory": {"available_qty": -1}}, "inventory.available_qty"),
        ({"inventory": {"available_qty": 1, "reserved_qty": 1}}, "inventory.reserved_qty"),
        ({"volume_discounts": []}, "volume_discounts"),
        ({"volume_discounts": [{"min_qty": 0, "discount_percent": 5}]}, "volume_discounts.0.min_qty"),
        (
            {"volume_discounts": [{"min_qty": 5, "discount_percent": 0}]},
            "volume_discounts.0.discount_percent",
        ),
        (
            {"volume_discounts": [{"min_qty": 5, "discount_percent": 100.5}]},
            "volume_discounts.0.discount_percent",
        ),
        ({"media_ids": ["not-a-uuid"]}, "media_ids.0"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_create_rejects_bad_fields(
    client: httpx.AsyncClient, db: Database, vendor: Account, overrides: dict[str, Any], field: str
) -> None:
    response = await post(client, vendor, product_body(**overrides))
    assert response.status_code == 400, response.text
    assert error(response)["code"] == "VALIDATION_ERROR"
    assert field in error(response)["details"], error(response)["details"]
    assert await count(db, "products") == 0


async def test_integral_numbers_are_integers(client: httpx.AsyncClient, vendor: Account) -> None:
    """JSON Schema's `integer` includes `3750.0`: what the schema accepts, the server accepts (issue #18)."""
    response = await post(
        client, vendor, product_body(price_cents=3750.0, moq=2.0, inventory={"available_qty": 5.0})
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["price_cents"], data["moq"], data["inventory"]["available_qty"]) == (3750, 2, 5)


async def test_create_requires_fields_and_valid_json(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    body = product_body()
    for name in ("sku", "title", "category", "unit", "feelings", "moq", "price_cents", "inventory"):
        response = await post(client, vendor, {k: v for k, v in body.items() if k != name})
        assert response.status_code == 400, name
        assert error(response)["details"][name] == "is required", name
    malformed = await client.post(
        "/api/v1/vendor/products",
        content=b'{"sku": ',
        headers={**vendor.headers, **idem(), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert await count(db, "products") == 0


async def test_discount_thresholds_and_caps(client: httpx.AsyncClient, db: Database, vendor: Account) -> None:
    duplicate = await post(
        client,
        vendor,
        product_body(
            volume_discounts=[{"min_qty": 10, "discount_percent": 5}, {"min_qty": 10, "discount_percent": 7}]
        ),
    )
    assert duplicate.status_code == 400
    assert "volume_discounts" in error(duplicate)["details"]
    below_moq = await post(client, vendor, product_body(moq=10, max_qty=5))
    assert below_moq.status_code == 400
    full = await post(
        client, vendor, product_body(volume_discounts=[{"min_qty": 1, "discount_percent": 100}])
    )
    assert full.status_code == 201
    precise = await post(
        client, vendor, product_body(volume_discounts=[{"min_qty": 3, "discount_percent": 0.0001}])
    )
    assert precise.status_code == 201
    assert precise.json()["data"]["volume_discounts"][0]["discount_percent"] == 0.0001
    too_precise = await post(
        client, vendor, product_body(volume_discounts=[{"min_qty": 3, "discount_percent": 0.00001}])
    )
    assert too_precise.status_code == 400
    assert await count(db, "products") == 2


async def test_only_vendor_writers_create(
    client: httpx.AsyncClient, db: Database, settings: Settings, vendor: Account
) -> None:
    buyer = await register_buyer(client)
    as_buyer = await post(client, buyer, product_body())
    assert as_buyer.status_code == 403
    assert error(as_buyer)["message"] == "vendor access required"
    staff_email = (await invite(client, vendor, role="staff"))["membership"]["email"]
    ops_email = (await invite(client, vendor, role="ops"))["membership"]["email"]
    for email, expected in ((staff_email, 403), (ops_email, 201)):
        member = await _member(client, db, settings, vendor, email)
        response = await post(client, member, product_body())
        assert response.status_code == expected, response.text
    anonymous = await client.post("/api/v1/vendor/products", json=product_body(), headers=idem())
    assert anonymous.status_code == 401
    assert await count(db, "products") == 1


async def _member(
    client: httpx.AsyncClient, db: Database, settings: Settings, vendor: Account, email: str
) -> Account:
    """Sign in an invited member (a known password set directly) in the vendor store."""
    password = "member password 123"
    hashed = await Passwords(settings).hash(password)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE users SET password_hash = :h, must_change_password = false WHERE email = :e"),
            {"h": hashed, "e": email},
        )
    account = await login(client, email, password)
    await accept_invitations(client, account)
    return await switch_store(client, account, vendor.store_id)  # type: ignore[arg-type]


# --- update ----------------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(
        client,
        vendor,
        brand="Acme",
        strain="Gelato",
        volume_discounts=[{"min_qty": 5, "discount_percent": 5}],
    )
    response = await patch(
        client, vendor, product["id"], {"title": "Gelato 7g", "brand": None, "price_cents": 4000}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["title"], data["brand"], data["strain"], data["price_cents"]) == (
        "Gelato 7g",
        None,
        "Gelato",
        4000,
    )
    assert data["has_promo"] is True
    assert data["updated_at"] > product["updated_at"]
    cleared = await patch(client, vendor, product["id"], {"volume_discounts": []})
    assert cleared.json()["data"]["has_promo"] is False
    assert cleared.json()["data"]["volume_discounts"] == []
    replaced = await patch(
        client,
        vendor,
        product["id"],
        {"volume_discounts": [{"min_qty": 3, "discount_percent": 2}, {"min_qty": 9, "discount_percent": 4}]},
    )
    assert [t["min_qty"] for t in replaced.json()["data"]["volume_discounts"]] == [9, 3]
    assert await count(db, "product_volume_discounts") == 2


async def test_patch_search_document_follows_the_title(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor, title="Mango Kush")
    await patch(client, vendor, product["id"], {"title": "Papaya Punch"})
    found = await tuples(db, "SELECT search_tsv::text FROM products WHERE id = :id", id=product["id"])
    assert "papaya" in found[0][0]
    assert "mango" not in found[0][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": None}, "sku"),
        ({"title": "  "}, "title"),
        ({"moq": None}, "moq"),
        ({"is_active": None}, "is_active"),
        ({"category": "hats"}, "category"),
        ({"inventory": {"available_qty": 5}}, "inventory.low_stock_threshold"),
        (
            {
                "volume_discounts": [
                    {"min_qty": 2, "discount_percent": 1},
                    {"min_qty": 2, "discount_percent": 3},
                ]
            },
            "volume_discounts",
        ),
        ({"max_qty": 1, "moq": 2}, "max_qty"),
        ({"store_id": str(uuid.uuid4())}, "store_id"),
    ],
)
async def test_patch_rejects_bad_input(
    client: httpx.AsyncClient, db: Database, vendor: Account, body: dict[str, Any], field: str
) -> None:
    product = await create_product(client, vendor)
    before = await tuples(db, "SELECT to_jsonb(p) FROM products p WHERE id = :id", id=product["id"])
    response = await patch(client, vendor, product["id"], body)
    assert response.status_code == 400, response.text
    assert field in error(response)["details"], error(response)["details"]
    assert await tuples(db, "SELECT to_jsonb(p) FROM products p WHERE id = :id", id=product["id"]) == before


async def test_patch_max_qty_checked_against_current_moq(client: httpx.AsyncClient, vendor: Account) -> None:
    product = await create_product(client, vendor, moq=10)
    response = await patch(client, vendor, product["id"], {"max_qty": 5})
    assert response.status_code == 400
    assert error(response)["details"] == {"max_qty": "must be 0 (no cap) or at least moq"}
    assert (await patch(client, vendor, product["id"], {"max_qty": 0})).status_code == 200


async def test_patch_sku_conflict_and_ownership(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    first = await create_product(client, vendor, sku="A-1")
    second = await create_product(client, vendor, sku="A-2")
    assert (await patch(client, vendor, second["id"], {"sku": "A-1"})).status_code == 409
    assert (await patch(client, vendor, first["id"], {"sku": "A-1", "title": "Same sku"})).status_code == 200
    other = await vendor_at(client, db)
    foreign = await patch(client, other, first["id"], {"title": "mine now"})
    assert foreign.status_code == 404  # issue #17: was 403
    assert (await patch(client, vendor, str(uuid.uuid4()), {"title": "x"})).status_code == 404
    malformed = await patch(client, vendor, "not-a-uuid", {"title": "x"})
    assert malformed.status_code == 400
    assert "product_id" in error(malformed)["details"]


async def test_patch_inventory_is_written_as_given(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    response = await patch(
        client, vendor, product["id"], {"inventory": {"available_qty": 7, "low_stock_threshold": 2}}
    )
    assert response.json()["data"]["inventory"]["available_qty"] == 7
    assert await tuples(
        db, "SELECT available_qty, low_stock_threshold, reserved_qty FROM inventory_items"
    ) == [(7, 2, 0)]


# --- delete ----------------------------------------------------------------------------------------


async def test_delete_cascades(client: httpx.AsyncClient, db: Database, vendor: Account) -> None:
    product = await create_product(client, vendor, volume_discounts=[{"min_qty": 2, "discount_percent": 1}])
    response = await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=vendor.headers)
    assert response.status_code == 204
    assert response.content == b""
    for table in ("products", "inventory_items", "product_volume_discounts"):
        assert await count(db, table) == 0, table
    again = await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=vendor.headers)
    assert again.status_code == 404


async def test_delete_refused_while_stock_is_reserved(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    async with db.transaction() as session:
        await session.execute(text("UPDATE inventory_items SET available_qty = 90, reserved_qty = 10"))
    response = await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=vendor.headers)
    assert response.status_code == 409
    assert "deactivate instead" in error(response)["message"]
    assert await count(db, "products") == 1
    deactivated = await patch(client, vendor, product["id"], {"is_active": False})
    assert deactivated.json()["data"]["is_active"] is False


async def test_delete_refuses_other_stores_and_staff(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    other = await vendor_at(client, db)
    assert (
        await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=other.headers)
    ).status_code == 404  # issue #17: was 403
    buyer = await register_buyer(client)
    assert (
        await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=buyer.headers)
    ).status_code == 403
    assert (await client.delete("/api/v1/vendor/products/nope", headers=vendor.headers)).status_code == 400
    assert await count(db, "products") == 1


# --- gallery and COA through the attachment reconciler ---------------------------------------------


async def test_gallery_and_coa_attachments(client: httpx.AsyncClient, db: Database, vendor: Account) -> None:
    first = await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name="a.png")
    second = await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name="b.png")
    coa = await uploaded(client, vendor, kind="coa", mime="application/pdf", content=PDF, name="coa.pdf")
    product = await create_product(
        client, vendor, media_ids=[str(second.media_id), str(first.media_id)], coa_media_id=str(coa.media_id)
    )
    assert [m["media_id"] for m in product["media"]] == [str(second.media_id), str(first.media_id)]
    assert [m["position"] for m in product["media"]] == [0, 1]
    assert all(m["url"] for m in product["media"])
    assert product["coa_added"] is True
    assert product["coa_read_url"]
    attachments = await tuples(
        db, "SELECT entity_type, media_id FROM media_attachments ORDER BY entity_type, media_id"
    )
    assert sorted(attachments) == sorted(
        [
            ("product_coa", coa.media_id),
            ("product_gallery", first.media_id),
            ("product_gallery", second.media_id),
        ]
    )
    buyer = await register_buyer(client)
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]
    listed = (await client.get("/api/v1/products", headers=buyer.headers)).json()["data"]["items"]
    assert listed[0]["thumbnail_url"] == product["media"][0]["url"]

    reordered = await patch(
        client, vendor, product["id"], {"media_ids": [str(first.media_id)], "coa_media_id": None}
    )
    data = reordered.json()["data"]
    assert [m["media_id"] for m in data["media"]] == [str(first.media_id)]
    assert data["coa_added"] is False
    assert data["coa_read_url"] is None
    attachments = await tuples(db, "SELECT entity_type, media_id FROM media_attachments")
    assert attachments == [("product_gallery", first.media_id)]

    # Deleting the media detaches it from the gallery (the media domain's cleanup).
    deleted = await client.delete(f"/api/v1/media/{first.media_id}", headers=vendor.headers)
    assert deleted.status_code == 204
    detail = await client.get(f"/api/v1/products/{product['id']}", headers=vendor.headers)
    assert detail.json()["data"]["media"] == []

    await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=vendor.headers)
    assert await count(db, "media_attachments") == 0


async def test_media_must_be_own_and_of_the_right_kind(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    other = await vendor_at(client, db)
    foreign = await uploaded(client, other, kind="product", mime="image/png", content=PNG, name="x.png")
    wrong_kind = await uploaded(client, vendor, kind="coa", mime="application/pdf", content=PDF, name="c.pdf")
    image = await uploaded(client, vendor, kind="product", mime="image/png", content=PNG, name="i.png")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"media_ids": [str(foreign.media_id)]}, "media_ids.0", "media belongs to different store"),
        ({"media_ids": [str(wrong_kind.media_id)]}, "media_ids.0", "must be media of kind product"),
        ({"media_ids": [str(uuid.uuid4())]}, "media_ids.0", "media not found"),
        (
            {"media_ids": [str(image.media_id), str(image.media_id)]},
            "media_ids",
            "Value error, entries must be distinct",
        ),
        ({"coa_media_id": str(image.media_id)}, "coa_media_id", "must be media of kind coa"),
    ]
    for overrides, field, message in cases:
        response = await post(client, vendor, product_body(**overrides))
        assert response.status_code == 400, (overrides, response.text)
        assert error(response)["details"][field].endswith(message.removeprefix("Value error, ")), error(
            response
        )
    assert await count(db, "products") == 0
    assert await count(db, "media_attachments") == 0


async def test_delete_refused_while_a_cart_holds_the_product(
    client: httpx.AsyncClient, db: Database, vendor: Account
) -> None:
    product = await create_product(client, vendor)
    buyer = await register_buyer(client)
    await set_store_kyc(db, buyer.store_id, "verified")  # type: ignore[arg-type]
    await make_vendor_visible(db, vendor.store_id)  # type: ignore[arg-type]
    await quote(client, buyer, line(product, 1))
    response = await client.delete(f"/api/v1/vendor/products/{product['id']}", headers=vendor.headers)
    assert response.status_code == 409
    assert error(response)["message"] == "product is in buyers' carts; deactivate instead"
    assert await count(db, "products") == 1
    assert await count(db, "inventory_items") == 1
