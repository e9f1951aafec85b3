"""Item 4 (issue #17): membership by consent. An invitation waits for its invitee to accept or decline
it (7 days); before the fix it became active at the invitee's next login, without their consent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import text

from packfinderz.kit.db import Database
from tests.fixtures.factories import Account, invite, login, register_buyer, register_vendor

INVITATIONS = "/api/v1/invitations"


async def _status(db: Database, membership_id: str) -> str | None:
    async with db.transaction() as session:
        found: str | None = await session.scalar(
            text("SELECT status FROM store_memberships WHERE id = :id"), {"id": membership_id}
        )
    return found


async def _pending(client: httpx.AsyncClient, account: Account) -> list[dict[str, object]]:
    response = await client.get(INVITATIONS, headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["data"]["items"]
    return items


async def test_login_does_not_accept_an_invitation(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client, company_name="Inviting Co")
    invitee = await register_vendor(client)
    data = await invite(client, owner, email=invitee.email, role="manager")
    membership_id = data["membership"]["membership_id"]
    account = await login(client, invitee.email, invitee.password)
    assert str(owner.store_id) not in {s["id"] for s in account.body["stores"]}
    assert await _status(db, membership_id) == "invited"
    switched = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(owner.store_id)}, headers=account.headers
    )
    assert switched.status_code == 403
    [pending] = await _pending(client, account)
    assert pending["id"] == membership_id
    assert (pending["store_id"], pending["store_name"], pending["role"]) == (
        str(owner.store_id),
        "Inviting Co",
        "manager",
    )


async def test_accept_activates_and_decline_removes(client: httpx.AsyncClient, db: Database) -> None:
    first, second = await register_buyer(client), await register_buyer(client)
    invitee = await register_vendor(client)
    accepted_id = (await invite(client, first, email=invitee.email))["membership"]["membership_id"]
    declined_id = (await invite(client, second, email=invitee.email))["membership"]["membership_id"]
    account = await login(client, invitee.email, invitee.password)
    accepted = await client.post(f"{INVITATIONS}/{accepted_id}/accept", headers=account.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["data"] == {"id": accepted_id, "store_id": str(first.store_id), "status": "active"}
    declined = await client.post(f"{INVITATIONS}/{declined_id}/decline", headers=account.headers)
    assert declined.status_code == 200
    assert declined.json()["data"]["status"] == "declined"
    assert await _status(db, accepted_id) == "active"
    assert await _status(db, declined_id) is None
    assert await _pending(client, account) == []
    switched = await client.post(
        "/api/v1/auth/switch-store", json={"store_id": str(first.store_id)}, headers=account.headers
    )
    assert switched.status_code == 200
    # the store sees its invitation answered: active, or gone
    members = await client.get("/api/v1/stores/me/users", headers=second.headers)
    assert invitee.email not in {m["email"] for m in members.json()["data"]["items"]}


async def test_invitations_expire_after_seven_days(client: httpx.AsyncClient, db: Database) -> None:
    owner = await register_buyer(client)
    invitee = await register_vendor(client)
    data = await invite(client, owner, email=invitee.email)
    membership = data["membership"]
    assert membership["membership_status"] == "invited"
    sent = await _created(db, membership["membership_id"])
    expires = membership["invite_expires_at"].replace("Z", "+00:00")
    assert abs(datetime.fromisoformat(expires) - (sent + timedelta(days=7))) < timedelta(minutes=1)
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE store_memberships SET invite_expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": membership["membership_id"]},
        )
    account = await login(client, invitee.email, invitee.password)
    assert await _pending(client, account) == []
    late = await client.post(f"{INVITATIONS}/{membership['membership_id']}/accept", headers=account.headers)
    assert late.status_code == 409
    assert await _status(db, membership["membership_id"]) == "invited"
    # the store can send it again: renewed for another 7 days
    again = await invite(client, owner, email=invitee.email)
    assert again["membership"]["invite_expires_at"] > membership["invite_expires_at"]
    assert len(await _pending(client, account)) == 1


async def _created(db: Database, membership_id: str) -> datetime:
    async with db.transaction() as session:
        found: datetime = await session.scalar(
            text("SELECT created_at FROM store_memberships WHERE id = :id"), {"id": membership_id}
        )
    return found


async def test_someone_elses_invitation_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    invitee = await register_vendor(client)
    stranger = await register_vendor(client)
    membership_id = (await invite(client, owner, email=invitee.email))["membership"]["membership_id"]
    for action in ("accept", "decline"):
        response = await client.post(f"{INVITATIONS}/{membership_id}/{action}", headers=stranger.headers)
        assert response.status_code == 404, action
        missing = await client.post(f"{INVITATIONS}/{uuid.uuid4()}/{action}", headers=stranger.headers)
        assert missing.status_code == 404
    assert await _pending(client, stranger) == []


async def test_an_invitee_without_a_store_can_sign_in_only_to_answer(client: httpx.AsyncClient) -> None:
    owner = await register_buyer(client)
    data = await invite(client, owner)  # a new email: the account is created with the one-time password
    email, temporary = data["membership"]["email"], data["temporary_password"]
    account = await login(client, email, temporary)
    assert account.body["active_store_id"] is None
    changed = await client.post(
        "/api/v1/auth/update-password",
        json={"current_password": temporary, "new_password": "a long enough passphrase"},
        headers=account.headers,
    )
    assert changed.status_code == 200, changed.text
    account.access_token = changed.json()["data"]["access_token"]
    assert (await client.get("/api/v1/stores/me", headers=account.headers)).status_code == 403
    [pending] = await _pending(client, account)
    declined = await client.post(f"{INVITATIONS}/{pending['id']}/decline", headers=account.headers)
    assert declined.status_code == 200
    # nothing left to answer and no store: the account can no longer sign in
    refused = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "a long enough passphrase"}
    )
    assert refused.status_code == 401
