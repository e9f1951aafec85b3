"""Licenses and KYC through HTTP (identity.md §10): submit, review queue, decisions, deletion."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from packfinderz.kit.db import Database
from packfinderz.licenses.kyc import kyc_from_licenses
from tests.fixtures.compliance import PNG, decide, kyc, license_body, presign, submit_license, uploaded
from tests.fixtures.db import audits, events, scalar
from tests.fixtures.factories import Account, idem, invite, login


async def license_count(db: Database) -> int:
    count: int = await scalar(db, "SELECT count(*) FROM licenses")
    return count


async def post_license(client: httpx.AsyncClient, account: Account, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/licenses", json=body, headers={**account.headers, **idem()})


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (set(), "pending_verification"),
        ({"pending"}, "pending_verification"),
        ({"expired"}, "expired"),
        ({"expired", "rejected"}, "rejected"),
        ({"rejected", "verified", "pending"}, "verified"),
    ],
)
def test_the_kyc_rule(statuses: set[str], expected: str) -> None:
    assert kyc_from_licenses(statuses) == expected


async def test_submit_creates_a_pending_license_with_event_audit_and_attachment(
    client: httpx.AsyncClient, buyer: Account, db: Database
) -> None:
    upload = await uploaded(client, buyer)
    body = license_body(upload.media_id, number="  ok-123-abc ", issuing_state="ok")
    response = await post_license(client, buyer, body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["status"] == "pending"
    assert data["number"] == "OK-123-ABC"
    assert data["issuing_state"] == "OK"
    assert data["issue_date"] == "2025-01-01T00:00:00Z"
    assert data["expiration_date"] == "2030-01-01T00:00:00Z"
    assert data["store_id"] == str(buyer.store_id)
    assert data["user_id"] == str(buyer.user_id)
    assert "decided_by_user_id" not in data
    assert "expiry_warned_at" not in data
    document = await client.get(data["document_url"])
    assert document.status_code == 200
    assert await kyc(db, buyer.store_id) == "pending_verification"
    assert await events(db, "license_status_changed") == [
        {"license_id": data["id"], "store_id": str(buyer.store_id), "status": "pending", "reason": None}
    ]
    [entry] = await audits(db, "license.")
    assert entry["action"] == "license.created"
    assert entry["target_id"] == uuid.UUID(data["id"])
    assert (entry["actor_user_id"], entry["actor_store_id"], entry["actor_role"]) == (
        buyer.user_id,
        buyer.store_id,
        "owner",
    )
    assert entry["payload"] == {
        "number": "OK-123-ABC",
        "status": "pending",
        "kyc_status_after": "pending_verification",
    }
    attachment = await scalar(
        db,
        "SELECT entity_type || ':' || entity_id FROM media_attachments WHERE media_id = :m",
        m=upload.media_id,
    )
    assert attachment == f"license:{data['id']}"


async def test_whole_flow_approve_then_reject_and_the_store_follows(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    first = await submit_license(client, buyer)
    second = await submit_license(client, buyer)

    queue = await client.get("/api/admin/v1/licenses?status=pending&sort=oldest", headers=admin)
    assert queue.status_code == 200, queue.text
    page = queue.json()["data"]
    assert [item["id"] for item in page["items"]] == [first["id"], second["id"]]  # oldest first
    assert page["total"] == 2
    assert page["items"][0]["store"]["id"] == str(buyer.store_id)
    assert page["items"][0]["store"]["type"] == "buyer"
    assert page["items"][0]["decided_by_user_id"] is None

    approved = await decide(client, admin, first["id"], "verified")
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["status"] == "verified"
    assert approved.json()["data"]["decided_at"] is not None
    assert await kyc(db, buyer.store_id) == "verified"
    me = await client.get("/api/v1/licenses", headers=buyer.headers)
    assert [item["status"] for item in me.json()["data"]["items"]] == ["pending", "verified"]

    missing_reason = await decide(client, admin, second["id"], "rejected")
    assert missing_reason.status_code == 400
    assert missing_reason.json()["error"]["details"] == {"reason": "is required to reject"}
    rejected = await decide(client, admin, second["id"], "rejected", "  blurry scan ")
    assert rejected.status_code == 200
    assert rejected.json()["data"]["status_reason"] == "blurry scan"
    assert await kyc(db, buyer.store_id) == "verified"  # one verified license is enough

    again = await decide(client, admin, first["id"], "rejected", "changed my mind")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "license already finalized"

    changes = await events(db, "license_status_changed")
    assert [(e["license_id"], e["status"], e["reason"]) for e in changes] == [
        (first["id"], "pending", None),
        (second["id"], "pending", None),
        (first["id"], "verified", None),
        (second["id"], "rejected", "blurry scan"),
    ]
    decisions = [a for a in await audits(db, "license.") if a["action"] != "license.created"]
    assert [(a["action"], a["actor_role"], a["payload"]) for a in decisions] == [
        (
            "license.verified",
            "admin",
            {"number": first["number"], "status": "verified", "kyc_status_after": "verified"},
        ),
        (
            "license.rejected",
            "admin",
            {
                "number": second["number"],
                "status": "rejected",
                "reason": "blurry scan",
                "kyc_status_after": "verified",
            },
        ),
    ]
    detail = await client.get(f"/api/admin/v1/licenses/{first['id']}", headers=admin)
    assert detail.json()["data"]["decided_by_user_id"] == str(decisions[0]["actor_user_id"])


async def test_a_rejected_only_store_is_rejected_and_deleting_recomputes(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    license_ = await submit_license(client, buyer)
    assert (await decide(client, admin, license_["id"], "rejected", "expired document")).status_code == 200
    assert await kyc(db, buyer.store_id) == "rejected"

    response = await client.delete(f"/api/v1/licenses/{license_['id']}", headers=buyer.headers)
    assert response.status_code == 204
    assert await license_count(db) == 0
    assert await kyc(db, buyer.store_id) == "pending_verification"
    # the document stays, unprotected: it can now be deleted
    assert await scalar(db, "SELECT count(*) FROM media_attachments") == 0
    assert (
        await client.delete(f"/api/v1/media/{license_['media_id']}", headers=buyer.headers)
    ).status_code == 204
    [deleted] = await audits(db, "license.deleted")
    assert deleted["payload"]["kyc_status_after"] == "pending_verification"


async def test_only_rejected_or_expired_licenses_can_be_deleted(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    pending = await submit_license(client, buyer)
    verified = await submit_license(client, buyer)
    await decide(client, admin, verified["id"], "verified")
    for license_ in (pending, verified):
        response = await client.delete(f"/api/v1/licenses/{license_['id']}", headers=buyer.headers)
        assert response.status_code == 409
        assert response.json()["error"]["message"] == "only rejected or expired licenses can be deleted"
    assert await license_count(db) == 2
    assert (await client.delete(f"/api/v1/licenses/{uuid.uuid4()}", headers=buyer.headers)).status_code == 404


async def test_staff_may_submit_but_not_delete(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    member = await invite(client, buyer, role="staff")
    staff = await login(client, member["membership"]["email"], member["temporary_password"])
    # a temporary password must be changed before anything else
    changed = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": member["temporary_password"], "new_password": "a fresh password"},
        headers=staff.headers,
    )
    assert changed.status_code == 200, changed.text
    staff.access_token = changed.json()["data"]["access_token"]
    license_ = await submit_license(client, staff)
    await decide(client, admin, license_["id"], "rejected", "no")
    response = await client.delete(f"/api/v1/licenses/{license_['id']}", headers=staff.headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "insufficient store role"
    assert await license_count(db) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"issuing_state": "Oklahoma"}, "issuing_state", "String should match pattern '^[A-Za-z]{2}$'"),
        ({"number": "   "}, "number", "String should have at least 1 character"),
        ({"type": "cultivator"}, "type", "must be one of: producer, grower, dispensary, merchant"),
        ({"expiration_date": "2020-01-01"}, "expiration_date", "must be in the future"),
        (
            {"issue_date": "2031-01-01T00:00:00Z", "expiration_date": "2030-06-01"},
            "expiration_date",
            "must be after issue_date",
        ),
        (
            {"expiration_date": "next year"},
            "expiration_date",
            "must be an RFC 3339 timestamp or a YYYY-MM-DD date",
        ),
        (
            {"expiration_date": "2030-01-01T00:00:00"},
            "expiration_date",
            "must be an RFC 3339 timestamp or a YYYY-MM-DD date",
        ),
        ({"media_id": "not-a-uuid"}, "media_id", "Input should be a valid UUID"),
        ({"surprise": True}, "surprise", "is not allowed"),
    ],
)
async def test_bad_input_is_400_and_changes_nothing(
    client: httpx.AsyncClient,
    *,
    buyer: Account,
    db: Database,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    upload = await uploaded(client, buyer)
    response = await post_license(client, buyer, {**license_body(upload.media_id), **overrides})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][field].startswith(message)
    assert await license_count(db) == 0
    assert await events(db, "license_status_changed") == []


async def test_document_checks(
    client: httpx.AsyncClient, buyer: Account, vendor: Account, db: Database
) -> None:
    other_store = await uploaded(client, vendor)
    wrong_kind = await uploaded(client, buyer, kind="pdf", name="doc.pdf")
    not_ready = await presign(client, buyer)
    cases = [
        (uuid.uuid4(), 404, "media not found"),
        (other_store.media_id, 403, "media belongs to another store"),
        (wrong_kind.media_id, 400, "validation failed"),
        (not_ready.media_id, 409, "media not ready"),
    ]
    for media_id, status, message in cases:
        response = await post_license(client, buyer, license_body(media_id))
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"] == message
    assert await license_count(db) == 0


async def test_an_image_document_is_accepted(client: httpx.AsyncClient, buyer: Account) -> None:
    upload = await uploaded(client, buyer, mime="image/png", content=PNG, name="scan.png")
    response = await post_license(client, buyer, license_body(upload.media_id, expiration_date=None))
    assert response.status_code == 201, response.text


async def test_a_license_number_and_a_document_are_used_once(
    client: httpx.AsyncClient, buyer: Account, vendor: Account, db: Database
) -> None:
    first = await submit_license(client, buyer, number="OK-1", issuing_state="OK")
    duplicate = await uploaded(client, vendor)
    response = await post_license(
        client, vendor, license_body(duplicate.media_id, number="ok-1", issuing_state="OK")
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "license number already registered"
    same_number_other_state = await post_license(
        client, vendor, license_body(duplicate.media_id, number="OK-1", issuing_state="TX")
    )
    assert same_number_other_state.status_code == 201

    reuse = await post_license(client, buyer, license_body(uuid.UUID(first["media_id"])))
    assert reuse.status_code == 409
    assert reuse.json()["error"]["message"] == "media already attached to a license"
    assert await license_count(db) == 2
    assert len(await events(db, "license_status_changed")) == 2


async def test_submit_is_idempotent(client: httpx.AsyncClient, buyer: Account, db: Database) -> None:
    upload = await uploaded(client, buyer)
    headers = {**buyer.headers, **idem("license-once")}
    body = license_body(upload.media_id)
    first = await client.post("/api/v1/licenses", json=body, headers=headers)
    again = await client.post("/api/v1/licenses", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert await license_count(db) == 1


async def test_verify_is_idempotent_by_key(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    license_ = await submit_license(client, buyer)
    headers = {**admin, **idem("decide-once")}
    path = f"/api/admin/v1/licenses/{license_['id']}/verify"
    first = await client.post(path, json={"decision": "verified"}, headers=headers)
    again = await client.post(path, json={"decision": "verified"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await audits(db, "license.verified")) == 1
    missing = await client.post(
        f"/api/admin/v1/licenses/{uuid.uuid4()}/verify",
        json={"decision": "verified"},
        headers={**admin, **idem()},
    )
    assert missing.status_code == 404


async def test_store_license_reads(client: httpx.AsyncClient, buyer: Account, vendor: Account) -> None:
    license_ = await submit_license(client, buyer)
    own = await client.get(f"/api/v1/licenses/{license_['id']}", headers=buyer.headers)
    assert own.status_code == 200
    assert own.json()["data"]["id"] == license_["id"]
    other = await client.get(f"/api/v1/licenses/{license_['id']}", headers=vendor.headers)
    assert other.status_code == 403
    assert (await client.get(f"/api/v1/licenses/{uuid.uuid4()}", headers=buyer.headers)).status_code == 404
    assert (await client.get("/api/v1/licenses?status=verified", headers=buyer.headers)).json()["data"] == {
        "items": [],
        "next_cursor": None,
    }
    assert (await client.get("/api/v1/licenses?status=bogus", headers=buyer.headers)).status_code == 400


async def test_admin_filters(
    client: httpx.AsyncClient, buyer: Account, vendor: Account, admin: dict[str, str]
) -> None:
    mine = await submit_license(client, buyer, issuing_state="TX", type="merchant")
    await submit_license(client, vendor)

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/admin/v1/licenses{query}", headers=admin)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]["items"]]

    assert await ids(f"?store_id={buyer.store_id}") == [mine["id"]]
    assert await ids("?issuing_state=TX") == [mine["id"]]
    assert await ids("?type=merchant") == [mine["id"]]
    assert len(await ids("")) == 2
    for bad in ("?issuing_state=tx", "?type=x", "?store_id=1", "?status=x"):
        assert (await client.get(f"/api/admin/v1/licenses{bad}", headers=admin)).status_code == 400


async def test_admin_license_list_is_newest_first_and_the_queue_oldest_first_on_request(
    client: httpx.AsyncClient, buyer: Account, vendor: Account, admin: dict[str, str]
) -> None:
    first = await submit_license(client, buyer)
    second = await submit_license(client, vendor)
    third = await submit_license(client, buyer)
    newest = ["third", "second", "first"]
    ids = {first["id"]: "first", second["id"]: "second", third["id"]: "third"}

    async def order(query: str) -> list[str]:
        names: list[str] = []
        cursor: str | None = None
        while True:  # two pages of 2: the cursor keeps the order across pages
            params = f"{query}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            answer = await client.get(f"/api/admin/v1/licenses?{params}", headers=admin)
            assert answer.status_code == 200, answer.text
            page = answer.json()["data"]
            assert page["total"] == 3
            names += [ids[item["id"]] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return names

    assert await order("status=pending") == newest  # identity.md §1.4: lists are newest first
    assert await order("status=pending&sort=newest") == newest
    assert await order("status=pending&sort=oldest") == newest[::-1]  # the review queue, on request
    wrong = await client.get("/api/admin/v1/licenses?sort=sideways", headers=admin)
    assert wrong.status_code in (400, 422)
    assert wrong.json()["error"]["code"] == "VALIDATION_ERROR"
