"""The store inbox and the admin inbox over HTTP (identity.md §12), with real auth, Postgres and Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events.consumer import ConsumerRunner, load_consumers
from packfinderz.events.registry import TOPICS, LicenseStatusChanged
from packfinderz.events.relay import Relay
from packfinderz.kit.db import Database
from packfinderz.kit.transport import create_transport
from tests.fixtures.events import emit_committed, eventually, insert_license
from tests.fixtures.factories import admin_headers, register_buyer, register_vendor

STORE_PATH = "/api/v1/notifications"
ADMIN_PATH = "/api/admin/v1/notifications"
BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


async def add_notice(
    db: Database, store_id: uuid.UUID | None, *, minutes: int, title: str = "t", read: bool = False
) -> uuid.UUID:
    """A notice created `minutes` after BASE (a store's, or the admins' for None)."""
    table, extra, value = (
        ("notifications", ", store_id", ", :store") if store_id else ("admin_notifications", "", "")
    )
    async with db.transaction() as session:
        notice_id: uuid.UUID = (
            await session.execute(
                text(
                    f"INSERT INTO {table} (type, title, message, link, created_at, read_at{extra}) "
                    f"VALUES ('order_alert', :title, 'm', '/x', :at, :read{value}) RETURNING id"
                ),
                {
                    "title": title,
                    "at": BASE + timedelta(minutes=minutes),
                    "read": BASE if read else None,
                    "store": store_id,
                },
            )
        ).scalar_one()
    return notice_id


def titles(body: dict[str, Any]) -> list[str]:
    return [item["title"] for item in body["data"]["items"]]


async def test_the_store_inbox_lists_newest_first_with_filters_and_cursors(
    client: httpx.AsyncClient, db: Database
) -> None:
    vendor = await register_vendor(client)
    other = await register_buyer(client)
    assert vendor.store_id is not None
    assert other.store_id is not None
    for minute in range(5):
        await add_notice(db, vendor.store_id, minutes=minute, title=f"n{minute}", read=minute % 2 == 0)
    await add_notice(db, other.store_id, minutes=10, title="someone else's")
    await add_notice(db, None, minutes=11, title="for admins")

    everything = await client.get(STORE_PATH, headers=vendor.headers)
    assert everything.status_code == 200
    assert titles(everything.json()) == ["n4", "n3", "n2", "n1", "n0"]
    assert everything.json()["data"]["next_cursor"] is None
    item = everything.json()["data"]["items"][0]
    assert set(item) == {"id", "store_id", "type", "title", "message", "link", "read_at", "created_at"}
    assert item["store_id"] == str(vendor.store_id)
    assert item["created_at"].endswith("Z")

    unread = await client.get(STORE_PATH, params={"unread_only": "true"}, headers=vendor.headers)
    assert titles(unread.json()) == ["n3", "n1"]

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(STORE_PATH, params=params, headers=vendor.headers)).json()["data"]
        seen += [i["title"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["n4", "n3", "n2", "n1", "n0"]

    count = await client.get(f"{STORE_PATH}/unread-count", headers=vendor.headers)
    assert count.json() == {"data": {"count": 2}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"unread_only": "perhaps"}, "unread_only"),
    ],
)
async def test_bad_list_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    buyer = await register_buyer(client)
    response = await client.get(STORE_PATH, params=params, headers=buyer.headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"]


async def test_reading_one_notice_sets_read_at_once(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await register_buyer(client)
    assert buyer.store_id is not None
    notice = await add_notice(db, buyer.store_id, minutes=0)

    first = await client.post(f"{STORE_PATH}/{notice}/read", headers=buyer.headers)
    assert first.status_code == 200, first.text
    read_at = first.json()["data"]["read_at"]
    assert read_at is not None
    again = await client.post(f"{STORE_PATH}/{notice}/read", headers=buyer.headers)
    assert again.status_code == 200
    assert again.json()["data"]["read_at"] == read_at

    missing = await client.post(f"{STORE_PATH}/{uuid.uuid4()}/read", headers=buyer.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    malformed = await client.post(f"{STORE_PATH}/not-a-uuid/read", headers=buyer.headers)
    assert malformed.status_code == 400
    assert "notification_id" in malformed.json()["error"]["details"]


async def test_read_all_touches_only_the_callers_unread_notices(
    client: httpx.AsyncClient, db: Database
) -> None:
    buyer = await register_buyer(client)
    other = await register_vendor(client)
    assert buyer.store_id is not None
    assert other.store_id is not None
    for minute in range(3):
        await add_notice(db, buyer.store_id, minutes=minute)
    await add_notice(db, buyer.store_id, minutes=5, read=True)
    theirs = await add_notice(db, other.store_id, minutes=1)

    response = await client.post(f"{STORE_PATH}/read-all", headers=buyer.headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"updated": 3}}
    again = await client.post(f"{STORE_PATH}/read-all", headers=buyer.headers)
    assert again.json() == {"data": {"updated": 0}}
    assert (await client.get(f"{STORE_PATH}/unread-count", headers=buyer.headers)).json()["data"][
        "count"
    ] == 0
    async with db.transaction() as session:
        untouched = await session.scalar(
            text("SELECT read_at FROM notifications WHERE id = :id"), {"id": theirs}
        )
        first_read = await session.scalar(
            text("SELECT read_at FROM notifications WHERE store_id = :s AND created_at = :at"),
            {"s": buyer.store_id, "at": BASE + timedelta(minutes=5)},
        )
    assert untouched is None
    assert first_read == BASE, "an already-read notice keeps its first read time"


async def test_the_store_inbox_needs_a_store_member(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    assert (await client.get(STORE_PATH)).status_code == 401
    assert (await client.post(f"{STORE_PATH}/read-all")).status_code == 401
    bad = await client.get(STORE_PATH, headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    admin = await admin_headers(client, db, settings)
    refused = await client.get(STORE_PATH, headers=admin)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "store context missing"


async def test_the_admin_inbox_is_shared_by_every_admin(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    first_admin = await admin_headers(client, db, settings)
    second_admin = await admin_headers(client, db, settings)
    buyer = await register_buyer(client)
    assert buyer.store_id is not None
    old = await add_notice(db, None, minutes=0, title="older")
    await add_notice(db, None, minutes=1, title="newer")
    await add_notice(db, buyer.store_id, minutes=2, title="a store's")

    listed = await client.get(ADMIN_PATH, headers=first_admin)
    assert listed.status_code == 200
    assert titles(listed.json()) == ["newer", "older"]
    assert "store_id" not in listed.json()["data"]["items"][0]
    assert (await client.get(f"{ADMIN_PATH}/unread-count", headers=second_admin)).json() == {
        "data": {"count": 2}
    }

    read = await client.post(f"{ADMIN_PATH}/{old}/read", headers=first_admin)
    assert read.status_code == 200
    assert read.json()["data"]["read_at"] is not None
    unread = await client.get(ADMIN_PATH, params={"unread_only": True}, headers=second_admin)
    assert titles(unread.json()) == ["newer"], "one admin's read is everyone's"
    assert (await client.post(f"{ADMIN_PATH}/read-all", headers=second_admin)).json() == {
        "data": {"updated": 1}
    }
    assert (await client.get(f"{ADMIN_PATH}/unread-count", headers=first_admin)).json() == {
        "data": {"count": 0}
    }
    assert (await client.post(f"{ADMIN_PATH}/{uuid.uuid4()}/read", headers=first_admin)).status_code == 404
    assert (await client.post(f"{ADMIN_PATH}/x/read", headers=first_admin)).status_code == 400


async def test_the_admin_inbox_is_for_admins_only(client: httpx.AsyncClient, db: Database) -> None:
    buyer = await register_buyer(client)
    assert buyer.store_id is not None
    notice = await add_notice(db, None, minutes=0)
    assert (await client.get(ADMIN_PATH)).status_code == 401
    for method, path in (
        ("GET", ADMIN_PATH),
        ("GET", f"{ADMIN_PATH}/unread-count"),
        ("POST", f"{ADMIN_PATH}/{notice}/read"),
        ("POST", f"{ADMIN_PATH}/read-all"),
    ):
        response = await client.request(method, path, headers=buyer.headers)
        assert response.status_code == 403, path
        assert response.json()["error"]["message"] == "role required"
    async with db.transaction() as session:
        assert (
            await session.scalar(
                text("SELECT read_at FROM admin_notifications WHERE id = :id"), {"id": notice}
            )
            is None
        )


async def test_a_license_submission_lands_in_the_store_inbox_and_the_admin_inbox(
    client: httpx.AsyncClient, db: Database, redis: Redis, settings: Settings
) -> None:
    """emit -> outbox -> relay -> Redis Streams -> notifications consumer -> both inboxes over HTTP."""
    fast = settings.model_copy(update={"events_redelivery_idle": 0.3})
    vendor = await register_vendor(client, company_name="Sunrise Growers")
    assert vendor.store_id is not None
    license_id = await insert_license(db, vendor.store_id, "OK-SUN-1")
    await emit_committed(
        db, LicenseStatusChanged(license_id=license_id, store_id=vendor.store_id, status="pending")
    )
    transport = create_transport(fast, topics=TOPICS)
    try:
        await Relay(fast, db, transport).publish_batch()
        runner = ConsumerRunner(fast, db, redis, transport, [load_consumers()["notifications"]])
        await runner.setup()
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))

        async def delivered() -> bool:
            count = await client.get(f"{STORE_PATH}/unread-count", headers=vendor.headers)
            return bool(count.json()["data"]["count"] == 1)

        await eventually(delivered, what="the store notice")
        stop.set()
        await task
    finally:
        await transport.close()
    store_inbox = (await client.get(STORE_PATH, headers=vendor.headers)).json()["data"]["items"]
    assert [(n["type"], n["title"], n["link"]) for n in store_inbox] == [
        ("compliance", "License submitted for review", f"/licenses/{license_id}")
    ]
    admin_inbox = (await client.get(ADMIN_PATH, headers=await admin_headers(client, db, settings))).json()
    assert [(n["title"], n["message"], n["link"]) for n in admin_inbox["data"]["items"]] == [
        (
            "License awaiting review",
            "Sunrise Growers submitted license OK-SUN-1 for review.",
            f"/admin/licenses/{license_id}",
        )
    ]
