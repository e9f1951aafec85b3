"""events.outbox.emit(): the row lives and dies with the caller's transaction (platform.md §9.2, §9.3)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from fastapi import APIRouter
from sqlalchemy import func, select

from packfinderz.config import Settings
from packfinderz.events.outbox import NOTIFY_CHANNEL, Actor, emit
from packfinderz.events.registry import EventPayload, MediaDeleted, OrderPendingNudge, UnknownEventType
from packfinderz.kit.db import Database, DbSession
from packfinderz.models.outbox import OutboxEvent
from tests.fixtures.apps import serve

MEDIA_ID = uuid.UUID("11111111-1111-4111-8111-111111111111")
STORE_ID = uuid.UUID("22222222-2222-4222-8222-222222222222")
USER_ID = uuid.UUID("33333333-3333-4333-8333-333333333333")


def media_deleted() -> MediaDeleted:
    return MediaDeleted(
        media_id=MEDIA_ID, store_id=STORE_ID, storage_key=f"{STORE_ID}/product_image/{MEDIA_ID}.png"
    )


async def outbox_rows(db: Database) -> list[OutboxEvent]:
    async with db.transaction() as session:
        return list((await session.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at))).all())


async def emit_then_fail(db: Database) -> None:
    async with db.transaction() as session:
        assert await emit(session, media_deleted()) is True
        # written in this transaction...
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 1
        raise RuntimeError("state change failed")


async def test_emit_in_a_rolled_back_transaction_leaves_no_row(db: Database) -> None:
    with pytest.raises(RuntimeError, match="state change failed"):
        await emit_then_fail(db)
    assert await outbox_rows(db) == []  # ...and gone with it


async def test_emit_does_not_commit_on_its_own(db: Database) -> None:
    async with db.sessionmaker() as session:
        await emit(session, media_deleted())
        await session.rollback()
    assert await outbox_rows(db) == []


async def test_committed_emit_stores_the_envelope(db: Database) -> None:
    occurred = datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
    actor = Actor(user_id=USER_ID, role="store_admin", store_id=STORE_ID)
    async with db.transaction() as session:
        assert await emit(session, media_deleted(), actor=actor, occurred_at=occurred) is True
    [row] = await outbox_rows(db)
    assert row.event_type == "media_deleted"
    assert row.aggregate_type == "media"
    assert row.aggregate_id == MEDIA_ID
    assert row.dedupe_key is None
    assert row.attempt_count == 0
    assert row.published_at is None
    assert row.failed_at is None
    assert row.last_error is None
    assert row.next_attempt_at is not None
    assert row.payload == {
        "version": 1,
        "event_id": str(row.id),
        "event_type": "media_deleted",
        "occurred_at": "2025-01-31T12:00:00.123Z",
        "correlation_id": None,
        "actor": {"user_id": str(USER_ID), "store_id": str(STORE_ID), "role": "store_admin"},
        "data": {
            "media_id": str(MEDIA_ID),
            "store_id": str(STORE_ID),
            "storage_key": f"{STORE_ID}/product_image/{MEDIA_ID}.png",
        },
    }


async def test_occurred_at_defaults_to_now_in_utc_with_z(db: Database) -> None:
    async with db.transaction() as session:
        await emit(session, media_deleted())
    [row] = await outbox_rows(db)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row.payload["occurred_at"])
    assert row.payload["actor"] is None  # cron-style event


async def test_dedupe_key_emits_once(db: Database) -> None:
    order_id = uuid.uuid4()
    nudge = OrderPendingNudge(
        order_id=order_id,
        checkout_group_id=uuid.uuid4(),
        buyer_store_id=uuid.uuid4(),
        vendor_store_id=uuid.uuid4(),
        pending_days=5,
    )
    key = f"order_pending_nudge:{order_id}"
    async with db.transaction() as session:
        assert await emit(session, nudge, dedupe_key=key) is True
        assert await emit(session, nudge, dedupe_key=key) is False
    async with db.transaction() as session:  # and in a later transaction
        assert await emit(session, nudge, dedupe_key=key) is False
    [row] = await outbox_rows(db)
    assert (row.dedupe_key, row.aggregate_type, row.aggregate_id) == (key, "vendor_order", order_id)


async def test_a_written_event_notifies_the_relay_at_commit(db: Database) -> None:
    """The insert sends NOTIFY pf_outbox (delivered at commit); a dedupe hit or a rollback sends none."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with db.engine.connect() as connection:
        listener = (await connection.get_raw_connection()).driver_connection
        assert listener is not None
        await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[2]))
        async with db.transaction() as session:
            assert await emit(session, media_deleted(), dedupe_key="notify-once") is True
            await asyncio.sleep(0.2)
            assert heard.empty()  # not before the commit
        assert await asyncio.wait_for(heard.get(), timeout=5) == NOTIFY_CHANNEL
        async with db.transaction() as session:
            assert await emit(session, media_deleted(), dedupe_key="notify-once") is False
        async with db.sessionmaker() as session:
            assert await emit(session, media_deleted()) is True
            await session.rollback()
        await asyncio.sleep(0.3)
        assert heard.empty()


class NotRegistered(EventPayload):
    event_type: ClassVar[str] = "plat_not_registered"

    thing_id: uuid.UUID


async def test_unregistered_event_type_raises_and_writes_nothing(db: Database) -> None:
    with pytest.raises(UnknownEventType, match="plat_not_registered"):
        async with db.transaction() as session:
            await emit(session, NotRegistered(thing_id=uuid.uuid4()))
    assert await outbox_rows(db) == []


emit_router = APIRouter(prefix="/_test")


@emit_router.post("/emit")
async def emit_media_deleted(session: DbSession) -> dict[str, Any]:
    await emit(session, media_deleted())
    return {"data": {"emitted": True}}


async def test_correlation_id_is_the_request_id_inside_a_request(settings: Settings, db: Database) -> None:
    async with serve(settings, emit_router) as http:
        response = await http.post("/_test/emit", headers={"X-Request-Id": "corr-123"})
        assert response.status_code == 200
        minted = await http.post("/_test/emit")
    [first, second] = await outbox_rows(db)
    assert first.payload["correlation_id"] == "corr-123"
    assert second.payload["correlation_id"] == minted.headers["x-request-id"]
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 2
