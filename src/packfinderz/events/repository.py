"""SQL of the outbox: relay claims and records, statistics, DLQ listing, replay, retention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

ERROR_MAX_CHARS = 1024
_UUID_ARRAY = ARRAY(UUID(as_uuid=True))


@dataclass(frozen=True)
class OutboxRow:
    """A claimed outbox row."""

    id: uuid.UUID
    event_type: str
    aggregate_type: str
    aggregate_id: uuid.UUID | None
    payload: Any
    created_at: datetime
    attempt_count: int


def clip_error(message: str) -> str:
    """Errors are stored with at most 1024 characters (CHECK constraint)."""
    return message[:ERROR_MAX_CHARS]


_CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM outbox_events
        WHERE published_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at, created_at, id
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_events o SET next_attempt_at = now() + make_interval(secs => :lease)
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.event_type, o.aggregate_type, o.aggregate_id, o.payload, o.created_at, o.attempt_count
    """
)


async def claim_due(session: AsyncSession, batch: int, lease_seconds: float) -> list[OutboxRow]:
    """Lock up to `batch` due rows (skipping rows other relays hold) and hide them for the lease."""
    result = await session.execute(_CLAIM, {"batch": batch, "lease": lease_seconds})
    rows = [OutboxRow(**row._mapping) for row in result]
    return sorted(rows, key=lambda r: (r.created_at, r.id))


async def mark_published(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    if ids:
        await session.execute(
            text(
                "UPDATE outbox_events SET published_at = now(), last_error = NULL "
                "WHERE id = ANY(:ids) AND published_at IS NULL"
            ).bindparams(bindparam("ids", type_=_UUID_ARRAY)),
            {"ids": ids},
        )


async def mark_retry(session: AsyncSession, retries: list[dict[str, Any]]) -> None:
    """Each item: id, error, delay (seconds until the next attempt)."""
    if retries:
        await session.execute(
            text(
                "UPDATE outbox_events SET attempt_count = attempt_count + 1, last_error = :error, "
                "next_attempt_at = now() + make_interval(secs => :delay) "
                "WHERE id = :id AND published_at IS NULL AND failed_at IS NULL"
            ),
            [{**r, "error": clip_error(r["error"])} for r in retries],
        )


_TERMINAL = text(
    """
    WITH failed AS (
        UPDATE outbox_events
        SET failed_at = now(), last_error = :error, attempt_count = attempt_count + :increment
        WHERE id = :id AND published_at IS NULL AND failed_at IS NULL
        RETURNING id, event_type, aggregate_type, aggregate_id, payload, attempt_count, failed_at
    )
    INSERT INTO outbox_dlq (event_id, event_type, aggregate_type, aggregate_id, payload, error_reason,
                            error_message, attempt_count, failed_at)
    SELECT id, event_type, aggregate_type, aggregate_id, payload, :reason, :error, attempt_count, failed_at
    FROM failed
    ON CONFLICT (event_id) DO UPDATE SET
        event_type = EXCLUDED.event_type, aggregate_type = EXCLUDED.aggregate_type,
        aggregate_id = EXCLUDED.aggregate_id, payload = EXCLUDED.payload,
        error_reason = EXCLUDED.error_reason, error_message = EXCLUDED.error_message,
        attempt_count = EXCLUDED.attempt_count, failed_at = EXCLUDED.failed_at
    """
)


async def mark_terminal(session: AsyncSession, terminals: list[dict[str, Any]]) -> None:
    """Each item: id, reason (max_attempts|non_retryable), error, increment (1 if an attempt was made)."""
    if terminals:
        await session.execute(_TERMINAL, [{**t, "error": clip_error(t["error"])} for t in terminals])


@dataclass(frozen=True)
class OutboxStats:
    """Figures of `packfinderz outbox status`, the relay gauges and the heartbeat."""

    pending: int
    due: int
    failing: int
    dead_lettered: int
    oldest_pending_age_seconds: float | None
    oldest_due_age_seconds: float | None


async def stats(session: AsyncSession) -> OutboxStats:
    """Pending (unpublished, not failed), due now, failing (retried at least once), DLQ rows, ages."""
    row = (
        await session.execute(
            text(
                """
                SELECT count(*) AS pending,
                       count(*) FILTER (WHERE next_attempt_at <= now()) AS due,
                       count(*) FILTER (WHERE attempt_count > 0) AS failing,
                       extract(epoch FROM now() - min(created_at)) AS oldest_pending,
                       extract(epoch FROM now() - min(created_at) FILTER (WHERE next_attempt_at <= now()))
                           AS oldest_due,
                       (SELECT count(*) FROM outbox_dlq d JOIN outbox_events e ON e.id = d.event_id
                        WHERE e.failed_at IS NOT NULL) AS dead
                FROM outbox_events WHERE published_at IS NULL AND failed_at IS NULL
                """
            )
        )
    ).one()
    return OutboxStats(
        pending=row.pending,
        due=row.due,
        failing=row.failing,
        dead_lettered=row.dead,
        oldest_pending_age_seconds=_seconds(row.oldest_pending),
        oldest_due_age_seconds=_seconds(row.oldest_due),
    )


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


# --- DLQ and replay (operator CLI) ---------------------------------------------------------------


@dataclass(frozen=True)
class DlqFilter:
    """Selectors of `outbox dlq` / `outbox replay`."""

    event_ids: tuple[uuid.UUID, ...] = ()
    event_type: str | None = None
    reason: str | None = None
    failed_since: datetime | None = None
    failed_until: datetime | None = None


def _dlq_where(selector: DlqFilter) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if selector.event_ids:
        clauses.append("d.event_id = ANY(:event_ids)")
        params["event_ids"] = list(selector.event_ids)
    if selector.event_type:
        clauses.append("d.event_type = :event_type")
        params["event_type"] = selector.event_type
    if selector.reason:
        clauses.append("d.error_reason = :reason")
        params["reason"] = selector.reason
    if selector.failed_since:
        clauses.append("d.failed_at >= :failed_since")
        params["failed_since"] = selector.failed_since
    if selector.failed_until:
        clauses.append("d.failed_at <= :failed_until")
        params["failed_until"] = selector.failed_until
    return (" AND ".join(clauses) or "TRUE"), params


async def list_dlq(session: AsyncSession, selector: DlqFilter, limit: int, *, only_dead: bool) -> list[Any]:
    """DLQ rows, newest first; `only_dead` keeps events not replayed since (or purged from the outbox)."""
    where, params = _dlq_where(selector)
    if only_dead:
        where += (
            " AND NOT EXISTS (SELECT 1 FROM outbox_events e WHERE e.id = d.event_id AND e.failed_at IS NULL)"
        )
    statement = text(
        "SELECT d.event_id, d.event_type, d.aggregate_type, d.aggregate_id, d.payload, d.error_reason, "
        "d.error_message, d.attempt_count, d.failed_at, d.replay_count, d.last_replayed_at, "
        "NOT EXISTS (SELECT 1 FROM outbox_events e WHERE e.id = d.event_id AND e.failed_at IS NULL) AS dead "
        f"FROM outbox_dlq d WHERE {where} ORDER BY d.failed_at DESC, d.event_id DESC LIMIT :limit"
    )
    if "event_ids" in params:
        statement = statement.bindparams(bindparam("event_ids", type_=_UUID_ARRAY))
    result = await session.execute(statement, {**params, "limit": limit})
    return list(result)


async def published_rows(
    session: AsyncSession,
    *,
    event_ids: tuple[uuid.UUID, ...],
    event_type: str | None,
    published_since: datetime | None,
    limit: int,
) -> list[Any]:
    """Published outbox rows to publish again (replay --include-published)."""
    clauses = ["published_at IS NOT NULL"]
    params: dict[str, Any] = {"limit": limit}
    statement_binds = []
    if event_ids:
        clauses.append("id = ANY(:event_ids)")
        params["event_ids"] = list(event_ids)
        statement_binds.append(bindparam("event_ids", type_=_UUID_ARRAY))
    if event_type:
        clauses.append("event_type = :event_type")
        params["event_type"] = event_type
    if published_since:
        clauses.append("published_at >= :published_since")
        params["published_since"] = published_since
    statement = text(
        "SELECT id AS event_id, event_type, aggregate_type, aggregate_id, payload FROM outbox_events "
        f"WHERE {' AND '.join(clauses)} ORDER BY published_at, id LIMIT :limit"
    ).bindparams(*statement_binds)
    return list(await session.execute(statement, params))


async def reset_for_replay(session: AsyncSession, row: Any) -> str:
    """Make an event due again under the same id; re-insert it from its DLQ payload if it was purged.

    Returns `reset` or `reinserted`.
    """
    updated = await session.execute(
        text(
            "UPDATE outbox_events SET failed_at = NULL, published_at = NULL, last_error = NULL, "
            "attempt_count = 0, next_attempt_at = now() WHERE id = :id"
        ),
        {"id": row.event_id},
    )
    if updated.rowcount:  # type: ignore[attr-defined]
        return "reset"
    await session.execute(
        text(
            "INSERT INTO outbox_events (id, event_type, aggregate_type, aggregate_id, payload) "
            "VALUES (:id, :event_type, :aggregate_type, :aggregate_id, :payload)"
        ).bindparams(bindparam("payload", type_=JSONB)),
        {
            "id": row.event_id,
            "event_type": row.event_type,
            "aggregate_type": row.aggregate_type,
            "aggregate_id": row.aggregate_id,
            "payload": row.payload,
        },
    )
    return "reinserted"


async def count_replay(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(
        text(
            "UPDATE outbox_dlq SET replay_count = replay_count + 1, last_replayed_at = now() "
            "WHERE event_id = :id"
        ),
        {"id": event_id},
    )


# --- retention ------------------------------------------------------------------------------------


async def delete_published_batch(session: AsyncSession, older_than_seconds: float, batch: int) -> int:
    """Delete up to `batch` rows published longer ago than the retention."""
    result = await session.execute(
        text(
            "DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events "
            "WHERE published_at < now() - make_interval(secs => :age) LIMIT :batch)"
        ),
        {"age": older_than_seconds, "batch": batch},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_failed_batch(session: AsyncSession, older_than_seconds: float, batch: int) -> int:
    """Delete up to `batch` dead-lettered events older than the DLQ retention, with their DLQ rows."""
    result = await session.execute(
        text(
            """
            WITH old AS (
                SELECT d.event_id FROM outbox_dlq d
                WHERE d.failed_at < now() - make_interval(secs => :age)
                  AND NOT EXISTS (SELECT 1 FROM outbox_events e
                                  WHERE e.id = d.event_id AND e.failed_at IS NULL)
                LIMIT :batch
            ), gone AS (
                DELETE FROM outbox_events e USING old WHERE e.id = old.event_id
            )
            DELETE FROM outbox_dlq d USING old WHERE d.event_id = old.event_id
            """
        ),
        {"age": older_than_seconds, "batch": batch},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
