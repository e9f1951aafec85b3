"""The license-lifecycle job with a moved clock, and the notifications license events produce."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from packfinderz.events.consumer import to_event
from packfinderz.kit.db import Database
from packfinderz.licenses.jobs import run_lifecycle
from packfinderz.notifications.consumers import notify
from packfinderz.notifications.rules import HANDLED_TYPES
from tests.fixtures.compliance import decide, kyc, submit_license
from tests.fixtures.db import audits, events, scalar
from tests.fixtures.factories import Account

EXPIRES = "2030-01-01T00:00:00Z"
ZERO = {"warned": 0, "expired": 0, "purged": 0, "failed": 0}


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(UTC)


async def verified_license(
    client: httpx.AsyncClient, account: Account, admin: dict[str, str], expiration: str = EXPIRES
) -> dict[str, object]:
    license_ = await submit_license(client, account, expiration_date=expiration)
    assert (await decide(client, admin, str(license_["id"]), "verified")).status_code == 200
    return license_


async def deliver_notifications(db: Database) -> list[tuple[str, str, str | None]]:
    """Run the notifications consumer over every outbox event; the store notices (title, message, link)."""
    async with db.transaction() as session:
        rows = (
            await session.execute(text("SELECT event_type, payload FROM outbox_events ORDER BY created_at"))
        ).all()
    for row in rows:
        if row.event_type not in HANDLED_TYPES:
            continue  # e.g. media_deleted: another consumer's
        async with db.transaction() as session:
            await notify(session, to_event(row.event_type, row.payload, {}))
    async with db.transaction() as session:
        notices = await session.execute(
            text("SELECT title, message, link FROM notifications ORDER BY created_at, title")
        )
        return [(n.title, n.message, n.link) for n in notices]


async def test_warn_once_then_expire_then_purge(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    license_ = await verified_license(client, buyer, admin)
    license_id, media_id = str(license_["id"]), str(license_["media_id"])
    assert await kyc(db, buyer.store_id) == "verified"

    assert await run_lifecycle(db, at("2029-12-01T00:00:00Z")) == ZERO  # 31 days ahead: too early
    assert await run_lifecycle(db, at("2029-12-20T12:00:00Z")) == {**ZERO, "warned": 1}
    assert await run_lifecycle(db, at("2029-12-21T12:00:00Z")) == ZERO  # warned once only
    assert await events(db, "license_expiring_soon") == [
        {
            "license_id": license_id,
            "store_id": str(buyer.store_id),
            "expiration_date": "2030-01-01",
            "days_until_expiration": 12,  # 11.5 days, rounded up
        }
    ]

    assert await run_lifecycle(db, at("2030-01-01T00:00:00Z")) == {**ZERO, "expired": 1}
    assert await kyc(db, buyer.store_id) == "expired"
    [expired] = await events(db, "license_expired")
    assert expired["expiration_date"] == "2030-01-01"
    assert expired["expired_at"].startswith("2030-01-01T00:00:00")
    assert await run_lifecycle(db, at("2030-01-15T00:00:00Z")) == ZERO

    # the consumer reads license numbers from Postgres, so deliver before the purge removes the row
    notices = await deliver_notifications(db)
    link = f"/licenses/{license_id}"
    assert [(title, n_link) for title, _, n_link in notices] == [
        ("License submitted for review", link),
        ("License approved", link),
        ("License expiring soon", link),
        ("License expired", link),
    ]
    admin_inbox = await scalar(db, "SELECT array_agg(title) FROM admin_notifications")
    assert admin_inbox == ["License awaiting review"]

    assert await run_lifecycle(db, at("2030-01-31T00:00:00Z")) == {**ZERO, "purged": 1}
    assert await scalar(db, "SELECT count(*) FROM licenses") == 0
    assert await scalar(db, "SELECT count(*) FROM media") == 0
    assert await scalar(db, "SELECT count(*) FROM media_attachments") == 0
    assert await kyc(db, buyer.store_id) == "pending_verification"
    [deleted] = await events(db, "media_deleted")
    assert deleted["media_id"] == media_id
    assert await run_lifecycle(db, at("2030-02-28T00:00:00Z")) == ZERO

    system_rows = [
        a for a in await audits(db, "license.") if a["action"] in ("license.expired", "license.purged")
    ]
    assert [
        (a["action"], a["actor_role"], a["actor_user_id"], a["payload"]["kyc_status_after"])
        for a in system_rows
    ] == [
        ("license.expired", "system", None, "expired"),
        ("license.purged", "system", None, "pending_verification"),
    ]


async def test_a_missed_month_catches_up_in_one_run(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    await verified_license(client, buyer, admin)
    assert await run_lifecycle(db, at("2030-03-01T00:00:00Z")) == {**ZERO, "expired": 1, "purged": 1}
    assert await kyc(db, buyer.store_id) == "pending_verification"
    assert await events(db, "license_expiring_soon") == []  # past its date: expired, not warned


async def test_only_verified_licenses_expire_and_other_verified_ones_keep_the_store(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    await verified_license(client, buyer, admin)
    await verified_license(client, buyer, admin, expiration="2031-06-01")
    pending = await submit_license(client, buyer, expiration_date=EXPIRES)
    assert await run_lifecycle(db, at("2030-01-02T00:00:00Z")) == {**ZERO, "expired": 1}
    assert await kyc(db, buyer.store_id) == "verified"
    status = await scalar(db, "SELECT status FROM licenses WHERE id = :id", id=pending["id"])
    assert status == "pending"


async def test_suspended_stores_stay_suspended_through_expiry(
    client: httpx.AsyncClient, buyer: Account, admin: dict[str, str], db: Database
) -> None:
    await verified_license(client, buyer, admin)
    response = await client.patch(
        f"/api/admin/v1/stores/{buyer.store_id}",
        json={"suspended": True, "reason": "fraud review"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert await run_lifecycle(db, at("2030-01-02T00:00:00Z")) == {**ZERO, "expired": 1}
    assert await kyc(db, buyer.store_id) == "suspended"
