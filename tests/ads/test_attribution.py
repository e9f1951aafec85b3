"""Attribution end to end (money-ads-analytics.md §2.7): serve → click → quote → checkout → the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from packfinderz.config import Settings
from packfinderz.kit.db import Database
from tests.ads.conftest import (
    click,
    create_product,
    execute,
    mint_token,
    rows,
    serve,
    vendor_at,
    verified_buyer,
)
from tests.fixtures.ads import create_ad
from tests.fixtures.checkout import checkout, line, quote


async def test_served_and_clicked_ads_end_on_the_order_and_its_line(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    other_vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    product = await create_product(client, vendor)
    other_product = await create_product(client, other_vendor)
    await create_ad(client, vendor, placement="store", target_type="store", target_id=str(vendor.store_id))
    await create_ad(client, vendor, placement="product", target_type="product", target_id=product["id"])
    store_ad = await serve(client, buyer, "store")
    product_ad = await serve(client, buyer, "product")
    assert store_ad is not None
    assert product_ad is not None
    assert (await click(client, buyer, store_ad)).status_code == 302
    tokens = [store_ad["view_token"], store_ad["click_token"], product_ad["view_token"]]
    cart = await quote(client, buyer, line(product, 2), line(other_product, 1), ad_tokens=tokens)
    # Clicks first, then newest.
    assert cart["ad_tokens"][0] == store_ad["click_token"]
    assert set(cart["ad_tokens"]) == set(tokens)
    await checkout(client, buyer, cart["id"])
    orders = {r["vendor_store_id"]: r["ad_token"] for r in await rows(db, "SELECT * FROM vendor_orders")}
    assert orders == {vendor.store_id: store_ad["click_token"], other_vendor.store_id: None}
    lines = {str(r["product_id"]): r["ad_token"] for r in await rows(db, "SELECT * FROM order_line_items")}
    assert lines == {product["id"]: product_ad["view_token"], other_product["id"]: None}


async def test_bad_tokens_never_fail_a_quote_or_checkout(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    vendor = await vendor_at(client, db)
    buyer = await verified_buyer(client, db)
    other_buyer = await verified_buyer(client, db)
    product = await create_product(client, vendor)
    await create_ad(client, vendor)
    served = await serve(client, buyer, "store")
    theirs = await serve(client, other_buyer, "store")
    assert served is not None
    assert theirs is not None
    now = datetime.now(UTC)
    expired = mint_token(
        settings,
        served,
        buyer.store_id,
        occurred_at=now - timedelta(days=31),
        expires_at=now - timedelta(days=1),
    )
    forged = served["view_token"][:-4] + ("AAAA" if not served["view_token"].endswith("AAAA") else "BBBB")
    bad = ["garbage", expired, forged, theirs["view_token"], theirs["click_token"]]
    cart = await quote(client, buyer, line(product, 1), ad_tokens=bad)
    assert cart["ad_tokens"] == []
    result = await checkout(client, buyer, cart["id"])
    assert result["vendor_orders"][0]["status"] == "created_pending"
    assert [r["ad_token"] for r in await rows(db, "SELECT ad_token FROM vendor_orders")] == [None]
    # A token kept by the quote that has expired by checkout time is dropped there, never an error.
    valid = mint_token(settings, served, buyer.store_id)
    second_cart = await quote(client, buyer, line(product, 1), ad_tokens=[valid])
    assert second_cart["ad_tokens"] == [valid]
    lapsed = mint_token(
        settings,
        served,
        buyer.store_id,
        occurred_at=now - timedelta(days=30),
        expires_at=now - timedelta(seconds=1),
    )
    await execute(
        db, "UPDATE cart_records SET ad_tokens = :t WHERE id = :id", t=[lapsed], id=second_cart["id"]
    )
    await checkout(client, buyer, second_cart["id"])
    found = await rows(db, "SELECT ad_token FROM vendor_orders ORDER BY created_at")
    assert [r["ad_token"] for r in found] == [None, None]
