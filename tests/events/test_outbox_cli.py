"""`packfinderz outbox status|dlq|replay`: the operator service and the CLI as a real process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from packfinderz.config import Settings
from packfinderz.events import operator
from packfinderz.events.outbox import build_envelope
from packfinderz.events.registry import MediaDeleted
from packfinderz.events.repository import DlqFilter
from packfinderz.kit.db import Database
from tests.fixtures.events import emit_committed, worker_env
from tests.fixtures.processes import run

NOW = datetime.now(UTC)


async def dead_event(
    db: Database,
    *,
    event_type: str = "media_deleted",
    reason: str = "max_attempts",
    hours_ago: int = 1,
    purged: bool = False,
) -> uuid.UUID:
    """A dead-lettered event: its failed outbox row (unless purged) and its DLQ row."""
    store = uuid.uuid4()
    data = MediaDeleted(media_id=uuid.uuid4(), store_id=store, storage_key=f"{store}/pdf/a.pdf")
    event_id = uuid.uuid4()
    envelope = build_envelope(data, event_id=event_id, occurred_at=NOW, actor=None)
    envelope["event_type"] = event_type
    failed_at = NOW - timedelta(hours=hours_ago)
    params = {
        "id": event_id,
        "type": event_type,
        "agg": data.media_id,
        "payload": json.dumps(envelope),
        "reason": reason,
        "at": failed_at,
    }
    async with db.transaction() as session:
        if not purged:
            await session.execute(
                text(
                    "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, payload, "
                    "attempt_count, failed_at, last_error) "
                    "VALUES (:id, :type, 'media', :agg, CAST(:payload AS jsonb), 10, :at, 'boom')"
                ),
                params,
            )
        await session.execute(
            text(
                "INSERT INTO outbox_dlq (event_id, event_type, aggregate_type, aggregate_id, payload, "
                "error_reason, error_message, attempt_count, failed_at) "
                "VALUES (:id, :type, 'media', :agg, CAST(:payload AS jsonb), :reason, 'boom', 10, :at)"
            ),
            params,
        )
    return event_id


async def outbox(db: Database, event_id: uuid.UUID) -> dict[str, object] | None:
    async with db.transaction() as session:
        row = (
            await session.execute(text("SELECT * FROM outbox_events WHERE id = :id"), {"id": event_id})
        ).first()
    return dict(row._mapping) if row else None


async def test_replay_selects_by_type_reason_time_and_id(db: Database) -> None:
    old = await dead_event(db, hours_ago=48)
    recent = await dead_event(db, hours_ago=1)
    invalid = await dead_event(db, event_type="retired_event", reason="non_retryable")
    purged = await dead_event(db, purged=True)

    by_time = operator.ReplaySelection(dlq=DlqFilter(failed_since=NOW - timedelta(hours=24)))
    lines = await operator.replay(db, by_time, dry_run=True)
    assert {(line.event_id, line.status) for line in lines} == {
        (recent, "would_replay"),
        (purged, "would_replay"),
        (invalid, "skipped"),
    }
    assert (
        next(line for line in lines if line.event_id == invalid).detail
        == "unregistered event type 'retired_event'"
    )
    assert (await outbox(db, recent))["failed_at"] is not None, "a dry run changes nothing"  # type: ignore[index]

    by_reason = operator.ReplaySelection(
        dlq=DlqFilter(reason="max_attempts", failed_until=NOW - timedelta(hours=24))
    )
    [line] = await operator.replay(db, by_reason, dry_run=False)
    assert (line.event_id, line.status, line.detail) == (old, "replayed", "reset")
    row = await outbox(db, old)
    assert row is not None
    assert (row["failed_at"], row["published_at"], row["last_error"], row["attempt_count"]) == (
        None,
        None,
        None,
        0,
    )

    [line] = await operator.replay(
        db, operator.ReplaySelection(dlq=DlqFilter(event_ids=(purged,))), dry_run=False
    )
    assert (line.status, line.detail) == ("replayed", "reinserted")
    reinserted = await outbox(db, purged)
    assert reinserted is not None
    assert reinserted["event_type"] == "media_deleted"
    assert reinserted["payload"]["event_id"] == str(purged)  # type: ignore[index]

    again = await operator.replay(
        db, operator.ReplaySelection(dlq=DlqFilter(event_ids=(old,))), dry_run=False
    )
    assert [(x.status, x.detail) for x in again] == [
        ("skipped", "not dead-lettered (see --include-published)")
    ]
    async with db.transaction() as session:
        rows = await session.execute(text("SELECT event_id, replay_count FROM outbox_dlq"))
        counts: dict[uuid.UUID, int] = {r.event_id: r.replay_count for r in rows}
    assert counts == {old: 1, recent: 0, invalid: 0, purged: 1}


async def test_replay_include_published_republishes_published_rows(db: Database) -> None:
    [event_id] = await emit_committed(
        db, MediaDeleted(media_id=uuid.uuid4(), store_id=uuid.uuid4(), storage_key="k/pdf/x.pdf")
    )
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE outbox_events SET published_at = now() WHERE id = :id"), {"id": event_id}
        )
    selection = operator.ReplaySelection(
        dlq=DlqFilter(event_type="media_deleted"),
        include_published=True,
        published_since=NOW - timedelta(hours=1),
    )
    [line] = await operator.replay(db, selection, dry_run=False)
    assert (line.event_id, line.source, line.status) == (event_id, "published", "replayed")
    row = await outbox(db, event_id)
    assert row is not None
    assert row["published_at"] is None


async def test_status_counts(db: Database) -> None:
    await dead_event(db)
    await emit_committed(
        db, MediaDeleted(media_id=uuid.uuid4(), store_id=uuid.uuid4(), storage_key="k/pdf/y.pdf")
    )
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, payload, "
                "attempt_count, next_attempt_at, created_at) "
                "VALUES (gen_random_uuid(), 'media_deleted', 'media', gen_random_uuid(), '{}'::jsonb, 2, "
                "now() + interval '1 hour', now() - interval '10 minutes')"
            )
        )
    stats = await operator.status(db)
    assert (stats.pending, stats.due, stats.failing, stats.dead_lettered) == (2, 1, 1, 1)
    assert stats.oldest_pending_age_seconds is not None
    assert 590 <= stats.oldest_pending_age_seconds < 3600


async def test_the_cli_lists_the_dlq_and_refuses_unsafe_replays(settings: Settings, db: Database) -> None:
    good = await dead_event(db, hours_ago=2)
    bad = await dead_event(db, event_type="retired_event", reason="non_retryable", hours_ago=1)
    env = worker_env(settings)

    listed = run(["outbox", "dlq", "--limit", "10"], env)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if not line.startswith("{")]
    assert [line.split()[0] for line in lines] == [str(bad), str(good)], "newest first"
    assert "non_retryable" in lines[0]
    assert "attempts=10" in lines[1]

    nothing = run(["outbox", "replay"], env)
    assert nothing.returncode == 1
    assert "choose events" in nothing.stderr

    dry = run(["outbox", "replay", "--all-dlq", "--dry-run"], env)
    assert dry.returncode == 1, "a skipped event makes the command fail"
    assert f"{good}  media_deleted  dlq  would_replay" in dry.stdout
    assert f"{bad}  retired_event  dlq  skipped: unregistered event type" in dry.stdout
    assert "total: replayed 0, would_replay 1, skipped 1" in dry.stdout
    assert (await outbox(db, good))["failed_at"] is not None  # type: ignore[index]
