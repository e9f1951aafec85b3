"""Admin store management (identity.md §9.1): list, detail, suspend/reinstate, subscription override."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.compliance import decide, kyc, submit_license
from tests.fixtures.db import audits, scalar
from tests.fixtures.factories import Account, register_vendor


async def patch(
    client: httpx.AsyncClient, admin: dict[str, str], store_id: object, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"/api/admin/v1/stores/{store_id}", json=body, headers=admin)


async def test_list_filters_with_total(
    client: httpx.AsyncClient, admin: dict[str, str], buyer: Account, vendor: Account, db: Database
) -> None:
    named = await register_vendor(client, company_name="Green_Leaf 100% Farms", dba_name="Leafy")
    license_ = await submit_license(client, vendor)
    await decide(client, admin, str(license_["id"]), "verified")

    async def ids(query: str) -> tuple[list[str], int]:
        response = await client.get(f"/api/admin/v1/stores{query}", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        return [item["id"] for item in body["items"]], body["total"]

    assert await ids("") == ([str(named.store_id), str(vendor.store_id), str(buyer.store_id)], 3)
    assert await ids("?type=buyer") == ([str(buyer.store_id)], 1)
    assert await ids("?kyc_status=verified") == ([str(vendor.store_id)], 1)
    assert await ids("?q=100%25") == ([str(named.store_id)], 1)
    assert await ids("?q=leafy") == ([str(named.store_id)], 1)
    assert await ids("?q=g_een") == ([], 0)  # `_` is literal, not a wildcard
    assert await ids("?subscription_active=true") == ([], 0)
    page = (await client.get("/api/admin/v1/stores?limit=1", headers=admin)).json()["data"]
    assert page["total"] == 3
    assert page["next_cursor"] is not None
    listed = (await client.get("/api/admin/v1/stores?kyc_status=verified", headers=admin)).json()["data"][
        "items"
    ][0]
    assert listed["owner"]["id"] == str(vendor.user_id)
    assert [lic["status"] for lic in listed["licenses"]] == ["verified"]
    assert "subscription_override" not in listed
    for bad in ("?kyc_status=ok", "?type=shop", "?subscription_active=maybe", "?limit=101"):
        assert (await client.get(f"/api/admin/v1/stores{bad}", headers=admin)).status_code == 400


async def test_detail_has_members_licenses_and_override(
    client: httpx.AsyncClient, admin: dict[str, str], vendor: Account
) -> None:
    license_ = await submit_license(client, vendor)
    response = await client.get(f"/api/admin/v1/stores/{vendor.store_id}", headers=admin)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["id"] == str(vendor.store_id)
    assert data["subscription_override"] is None
    assert [(m["user_id"], m["role"], m["membership_status"]) for m in data["members"]] == [
        (str(vendor.user_id), "owner", "active")
    ]
    [lic] = data["licenses"]
    assert lic["id"] == license_["id"]
    assert lic["document_url"] is not None
    assert (await client.get(f"/api/admin/v1/stores/{uuid.uuid4()}", headers=admin)).status_code == 404


async def test_suspend_and_reinstate(
    client: httpx.AsyncClient, admin: dict[str, str], vendor: Account, db: Database
) -> None:
    license_ = await submit_license(client, vendor)
    await decide(client, admin, str(license_["id"]), "verified")

    response = await patch(client, admin, vendor.store_id, {"suspended": True, "reason": "unpaid fees"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["kyc_status"] == "suspended"
    assert await kyc(db, vendor.store_id) == "suspended"
    # a new decision recomputes KYC, but suspension is sticky
    second = await submit_license(client, vendor)
    await decide(client, admin, str(second["id"]), "verified")
    assert await kyc(db, vendor.store_id) == "suspended"

    same = await patch(client, admin, vendor.store_id, {"suspended": True, "reason": "again"})
    assert same.status_code == 200

    reinstated = await patch(client, admin, vendor.store_id, {"suspended": False, "reason": "paid"})
    assert reinstated.json()["data"]["kyc_status"] == "verified"  # derived from its licenses again

    entries = await audits(db, "store.admin_override")
    assert [(e["payload"], e["actor_role"], e["target_id"]) for e in entries] == [
        (
            {"changes": {"kyc_status": {"from": "verified", "to": "suspended"}}, "reason": "unpaid fees"},
            "admin",
            vendor.store_id,
        ),
        (
            {"changes": {"kyc_status": {"from": "suspended", "to": "verified"}}, "reason": "paid"},
            "admin",
            vendor.store_id,
        ),
    ]
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT type, title, message FROM notifications WHERE store_id = :s ORDER BY created_at"),
            {"s": vendor.store_id},
        )
        notices = [tuple(row) for row in rows]
    assert notices == [
        ("compliance", "Store suspended", "Your store was suspended by PackFinderz: unpaid fees"),
        ("compliance", "Store reinstated", "Your store was reinstated by PackFinderz: paid"),
    ]


async def test_subscription_override_comps_a_vendor_and_clearing_returns_to_billing(
    client: httpx.AsyncClient, admin: dict[str, str], vendor: Account, db: Database
) -> None:
    response = await patch(
        client, admin, vendor.store_id, {"subscription_active": True, "reason": "launch partner"}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["subscription_active"] is True
    override = data["subscription_override"]
    assert override["value"] is True
    assert override["reason"] == "launch partner"
    assert override["set_at"] is not None
    admin_id = await scalar(
        db, "SELECT subscription_override_by_user_id FROM stores WHERE id = :id", id=vendor.store_id
    )
    assert override["set_by_user_id"] == str(admin_id)

    cleared = await patch(
        client, admin, vendor.store_id, {"subscription_active": None, "reason": "trial over"}
    )
    data = cleared.json()["data"]
    assert data["subscription_override"] is None
    assert data["subscription_active"] is False  # no billing entitlement yet
    [comp, clear] = await audits(db, "store.admin_override")
    assert comp["payload"]["changes"] == {
        "subscription_override": {"from": None, "to": True},
        "subscription_active": {"from": False, "to": True},
    }
    assert clear["payload"]["changes"] == {
        "subscription_override": {"from": True, "to": None},
        "subscription_active": {"from": True, "to": False},
    }


async def test_badge(client: httpx.AsyncClient, admin: dict[str, str], vendor: Account) -> None:
    response = await patch(client, admin, vendor.store_id, {"badge": "top_brand", "reason": "best seller"})
    assert response.json()["data"]["badge"] == "top_brand"
    response = await patch(client, admin, vendor.store_id, {"badge": None, "reason": "season over"})
    assert response.json()["data"]["badge"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "nothing to do"}, "body"),
        ({"suspended": True}, "reason"),
        ({"suspended": True, "reason": "  "}, "reason"),
        ({"suspended": True, "reason": "x" * 501}, "reason"),
        ({"suspended": None, "reason": "x"}, "suspended"),
        ({"suspended": "yes", "reason": "x"}, "suspended"),
        ({"badge": "gold", "reason": "x"}, "badge"),
        ({"subscription_active": True, "reason": "buyers have no subscription"}, "subscription_active"),
        ({"suspended": True, "reason": "x", "kyc_status": "verified"}, "kyc_status"),
    ],
)
async def test_bad_patches_are_400_and_change_nothing(
    client: httpx.AsyncClient,
    *,
    admin: dict[str, str],
    buyer: Account,
    db: Database,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await patch(client, admin, buyer.store_id, body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["details"]
    assert await kyc(db, buyer.store_id) == "pending_verification"
    assert await audits(db, "store.") == [
        a for a in await audits(db, "store.") if a["action"] == "store.created"
    ]


async def test_patch_of_a_missing_store_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await patch(client, admin, uuid.uuid4(), {"suspended": True, "reason": "x"})
    assert response.status_code == 404
