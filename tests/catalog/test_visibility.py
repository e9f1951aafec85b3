"""The vendor visibility gate (commerce.md §3) on browse, detail and storefront, in every combination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from packfinderz.kit.db import Database
from packfinderz.kit.geo import distance_m
from tests.fixtures.catalog import (
    DALLAS,
    EDMOND,
    OKC,
    OKC_TO_TULSA_M,
    TULSA,
    browse,
    buyer_at,
    create_product,
    error,
    ids,
    set_radius,
    vendor_at,
)
from tests.fixtures.factories import Account, set_store_kyc, set_subscription_active


async def sees(client: httpx.AsyncClient, buyer: Account, product: dict[str, Any]) -> bool:
    """Whether the buyer finds the product in browse, detail and the vendor's storefront (all agree)."""
    listed = product["id"] in ids(await browse(client, buyer))
    detail = await client.get(f"/api/v1/products/{product['id']}", headers=buyer.headers)
    front = await client.get(
        f"/api/v1/stores/{product['vendor']['store_id']}/products", headers=buyer.headers
    )
    assert detail.status_code in (200, 404)
    assert front.status_code in (200, 404)
    assert listed == (detail.status_code == 200) == (front.status_code == 200), (listed, detail, front)
    if detail.status_code == 404:
        assert error(detail)["code"] == "NOT_FOUND"  # never 403: hidden vendors cannot be probed
    return listed


@pytest.mark.parametrize(
    ("kyc", "subscribed", "visible"),
    [
        ("verified", True, True),
        ("verified", False, False),
        ("pending_verification", True, False),
        ("rejected", True, False),
        ("expired", True, False),
        ("suspended", True, False),
    ],
)
async def test_kyc_and_subscription(
    client: httpx.AsyncClient, db: Database, kyc: str, subscribed: bool, visible: bool
) -> None:
    vendor = await vendor_at(client, db, visible=False)
    product = await create_product(client, vendor)
    await set_store_kyc(db, vendor.store_id, kyc)  # type: ignore[arg-type]
    await set_subscription_active(db, vendor.store_id, subscribed)  # type: ignore[arg-type]
    buyer = await buyer_at(client)
    assert await sees(client, buyer, product) is visible


async def test_other_state_is_hidden(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db, DALLAS)
    product = await create_product(client, vendor)
    okc_buyer = await buyer_at(client, OKC)
    assert await sees(client, okc_buyer, product) is False
    dallas_buyer = await buyer_at(client, DALLAS)
    assert await sees(client, dallas_buyer, product) is True


async def test_delivery_radius(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db, OKC)
    product = await create_product(client, vendor)
    near, far = await buyer_at(client, EDMOND), await buyer_at(client, TULSA)
    await set_radius(db, vendor.store_id, 50_000)
    assert await sees(client, near, product) is True  # ~22 km away
    assert await sees(client, far, product) is False  # ~159 km away
    await set_radius(db, vendor.store_id, OKC_TO_TULSA_M + 5_000)
    assert await sees(client, far, product) is True
    await set_radius(db, vendor.store_id, 0)  # statewide: any distance within the state
    assert await sees(client, far, product) is True


async def test_radius_boundary_is_inclusive(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db, OKC)
    product = await create_product(client, vendor)
    buyer = await buyer_at(client, TULSA)
    async with db.transaction() as session:
        exact = await session.scalar(
            text("SELECT pf_distance_m(:a, :b, :c, :d)"),
            {"a": OKC["lat"], "b": OKC["lng"], "c": TULSA["lat"], "d": TULSA["lng"]},
        )
    await set_radius(db, vendor.store_id, int(exact) + 1)
    assert await sees(client, buyer, product) is True
    await set_radius(db, vendor.store_id, int(exact) - 1)
    assert await sees(client, buyer, product) is False


async def test_distance_function_matches_python(db: Database) -> None:
    """The SQL haversine (radius gate) and the Python one (displayed distances, distance sort) agree."""
    pairs = [
        (OKC["lat"], OKC["lng"], TULSA["lat"], TULSA["lng"]),
        (34.0522, -118.2437, 37.7749, -122.4194),
        (35.4676, -97.5164, 35.4676, -97.5164),
        (-33.8688, 151.2093, 51.5074, -0.1278),
        (89.9, 0.0, -89.9, 180.0),
    ]
    async with db.transaction() as session:
        for pair in pairs:
            exact = await session.scalar(
                text("SELECT pf_distance_m(:a, :b, :c, :d)"),
                {"a": pair[0], "b": pair[1], "c": pair[2], "d": pair[3]},
            )
            assert abs(distance_m(*pair) - exact) < 1e-6, pair
    assert abs(distance_m(OKC["lat"], OKC["lng"], TULSA["lat"], TULSA["lng"]) - 158_600) < 2_000


async def test_inactive_products_hidden_from_buyers_not_from_their_vendor(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await vendor_at(client, db)
    active = await create_product(client, vendor)
    inactive = await create_product(client, vendor, is_active=False)
    buyer = await buyer_at(client)
    assert ids(await browse(client, buyer)) == [active["id"]]
    assert (await client.get(f"/api/v1/products/{inactive['id']}", headers=buyer.headers)).status_code == 404
    own = await browse(client, vendor)
    assert set(ids(own)) == {active["id"], inactive["id"]}
    assert own.json()["data"]["total"] == 2
    storefront = await client.get(f"/api/v1/stores/{vendor.store_id}/products", headers=vendor.headers)
    assert set(ids(storefront)) == {active["id"], inactive["id"]}
    table = await client.get("/api/v1/vendor/products", headers=vendor.headers)
    assert set(ids(table)) == {active["id"], inactive["id"]}
    detail = await client.get(f"/api/v1/products/{inactive['id']}", headers=vendor.headers)
    assert detail.status_code == 200
    assert detail.json()["data"]["is_active"] is False


async def test_hidden_vendor_still_sees_its_own_products(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db, visible=False)  # unverified, unsubscribed
    product = await create_product(client, vendor)
    assert ids(await browse(client, vendor)) == [product["id"]]
    detail = await client.get(f"/api/v1/products/{product['id']}", headers=vendor.headers)
    assert detail.status_code == 200


async def test_vendor_reads_only_its_own_products(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    product = await create_product(client, vendor)
    other = await vendor_at(client, db)
    detail = await client.get(f"/api/v1/products/{product['id']}", headers=other.headers)
    assert detail.status_code == 404  # issue #17: was 403
    assert ids(await browse(client, other)) == []
    # As a store meeting another vendor, the other vendor is the buyer context of the storefront.
    front = await client.get(f"/api/v1/stores/{vendor.store_id}/products", headers=other.headers)
    assert ids(front) == [product["id"]]


async def test_detail_and_storefront_errors(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await buyer_at(client)
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"/api/v1/products/{unknown}", headers=buyer.headers)).status_code == 404
    assert (await client.get("/api/v1/products/not-a-uuid", headers=buyer.headers)).status_code == 400
    assert (await client.get(f"/api/v1/stores/{unknown}/products", headers=buyer.headers)).status_code == 404
    other_buyer = await buyer_at(client)
    not_vendor = await client.get(f"/api/v1/stores/{other_buyer.store_id}/products", headers=buyer.headers)
    assert not_vendor.status_code == 400
    assert error(not_vendor)["details"] == {"store_id": "is not a vendor"}
    assert (await client.get("/api/v1/stores/xyz/products", headers=buyer.headers)).status_code == 400
    assert (await client.get("/api/v1/products")).status_code == 401


async def test_requested_state(client: httpx.AsyncClient, db: Database) -> None:
    vendor = await vendor_at(client, db)
    product = await create_product(client, vendor)
    buyer = await buyer_at(client)
    assert ids(await browse(client, buyer, state="OK")) == [product["id"]]
    assert ids(await browse(client, buyer, state="ok")) == [product["id"]]
    mismatch = await browse(client, buyer, state="TX")
    assert mismatch.status_code == 422
    assert error(mismatch)["code"] == "STATE_CONFLICT"
    blank = await browse(client, buyer, state=" ")
    assert blank.status_code == 400
    assert set(error(blank)["details"]) == {"state"}
    too_long = await browse(client, buyer, state="OKLA")
    assert too_long.status_code == 400
    front = await client.get(
        f"/api/v1/stores/{vendor.store_id}/products", params={"state": "TX"}, headers=buyer.headers
    )
    assert front.status_code == 422


async def test_totals_follow_visibility_changes(client: httpx.AsyncClient, db: Database) -> None:
    """The cached total is keyed by the visible vendors and their catalog versions: never stale."""
    first, second = await vendor_at(client, db), await vendor_at(client, db)
    await create_product(client, first)
    await create_product(client, second)
    buyer = await buyer_at(client)

    async def total() -> int:
        value: int = (await browse(client, buyer)).json()["data"]["total"]
        return value

    assert await total() == 2
    await set_subscription_active(db, second.store_id, False)  # type: ignore[arg-type]
    assert await total() == 1
    await set_subscription_active(db, second.store_id, True)  # type: ignore[arg-type]
    assert await total() == 2
    await create_product(client, first)
    assert await total() == 3
    product = await create_product(client, first)
    await client.patch(
        f"/api/v1/vendor/products/{product['id']}", json={"is_active": False}, headers=first.headers
    )
    assert await total() == 3
