from __future__ import annotations

import httpx

from packfinderz.kit.db import Database
from tests.catalog.conftest import browse, buyer_at, create_product, ids, vendor_at


async def test_smoke(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    buyer = await buyer_at(client)
    product = await create_product(client, vendor, volume_discounts=[{"min_qty": 10, "discount_percent": 5}])
    print(product)
    response = await browse(client, buyer)
    print(response.json())
    assert ids(response) == [product["id"]]
    detail = await client.get(f"/api/v1/products/{product['id']}", headers=buyer.headers)
    print(detail.json())
    assert detail.status_code == 200
    for q in ("blue", "dream blu", "sku-"):
        r = await browse(client, buyer, q=q, sort="relevance")
        print(q, r.json())
