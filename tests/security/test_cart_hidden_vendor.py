"""Item 7 (issue #17): hidden means hidden in the cart too (commerce.md §3).

Before the fix a cart quote named a hidden vendor and showed its product titles and prices (and why it
was hidden: suspended, unlicensed, out of radius).
"""

from __future__ import annotations

import httpx
import pytest

from packfinderz.kit.db import Database
from tests.fixtures.catalog import TULSA, create_product, vendor_at
from tests.fixtures.checkout import line, market, quote
from tests.fixtures.db import execute
from tests.fixtures.factories import set_store_kyc, set_subscription_active


@pytest.mark.parametrize("change", ["suspended", "pending", "unsubscribed", "far"])
async def test_a_hidden_vendors_lines_carry_only_ids_and_the_reason(
    client: httpx.AsyncClient, db: Database, change: str
) -> None:
    m = await market(client, db)
    hidden = await vendor_at(client, db, TULSA if change == "far" else None)
    assert hidden.store_id is not None
    product = await create_product(
        client, hidden, title="Secret Kush", price_cents=4321, moq=5, inventory={"available_qty": 9}
    )
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
    data = await quote(client, m.buyer, line(product, 1))
    [item] = data["items"]
    assert (item["product_id"], item["vendor_store_id"], item["status"]) == (
        product["id"],
        str(hidden.store_id),
        "invalid",
    )
    assert [w["type"] for w in item["warnings"]] == ["vendor_unavailable"]
    assert item["quantity"] == 1  # not clamped to the hidden product's MOQ (that would reveal it)
    assert (item["title"], item["thumbnail"], item["vendor_store_name"], item["unit"]) == ("", None, "", "")
    assert item["unit_price_cents"] == item["line_total_cents"] == 0
    [group] = data["vendor_groups"]
    assert [w["type"] for w in group["warnings"]] == ["vendor_unavailable"]
    text = str(data)
    assert "Secret Kush" not in text
    assert "4321" not in text
    again = await client.get("/api/v1/cart", headers=m.buyer.headers)
    assert "Secret Kush" not in again.text
