"""emit(): write an event to the outbox inside the caller's transaction (platform.md §9.2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.events.registry import EventPayload, lookup
from packfinderz.kit.http import current_request_id
from packfinderz.models.outbox import OutboxEvent

NOTIFY_CHANNEL = "pf_outbox"
ENVELOPE_VERSION = 1

# The writes on the Core table, built once: an ORM insert goes through the ORM's bulk machinery, and
# building a statement costs more CPU than running it (issue #21; a checkout emits one per order).
OUTBOX = cast(Table, OutboxEvent.__table__)
_WRITTEN = (OUTBOX.c.id, func.pg_notify(NOTIFY_CHANNEL, ""))
_EMIT = insert(OUTBOX).returning(*_WRITTEN)
_EMIT_ONCE = insert(OUTBOX).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(*_WRITTEN)
_AMEND = (
    update(OUTBOX)
    .where(OUTBOX.c.dedupe_key == bindparam("key"), OUTBOX.c.published_at.is_(None))
    .values(payload=OUTBOX.c.payload.op("||")(bindparam("amended", type_=JSONB)))
)


@dataclass(frozen=True)
class Actor:
    """Who caused an event (null for cron)."""

    user_id: uuid.UUID
    role: str
    store_id: uuid.UUID | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "store_id": str(self.store_id) if self.store_id else None,
            "role": self.role,
        }


def iso_z(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a Z suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_envelope(
    event: EventPayload, *, event_id: uuid.UUID, occurred_at: datetime, actor: Actor | None
) -> dict[str, Any]:
    """The envelope published for an event (platform.md §9.3)."""
    return {
        "version": ENVELOPE_VERSION,
        "event_id": str(event_id),
        "event_type": event.event_type,
        "occurred_at": iso_z(occurred_at),
        "correlation_id": current_request_id(),
        "actor": actor.as_dict() if actor else None,
        "data": event.model_dump(mode="json"),
    }


async def emit(
    session: AsyncSession,
    event: EventPayload,
    *,
    actor: Actor | None = None,
    occurred_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Insert the event's outbox row in the session's transaction; never commits.

    With a `dedupe_key`, an event already emitted under that key is not written again and False is
    returned ("emit if absent"). The relay is woken by NOTIFY, which Postgres delivers at commit; it is
    sent by the insert itself (`pg_notify` in RETURNING, evaluated only for a row written), so an
    emit is one statement.
    """
    spec = lookup(event.event_type)
    validated = spec.model.model_validate(event.model_dump())
    event_id = uuid.uuid4()
    envelope = build_envelope(
        validated, event_id=event_id, occurred_at=occurred_at or datetime.now(UTC), actor=actor
    )
    row = {
        "id": event_id,
        "event_type": spec.event_type,
        "aggregate_type": spec.aggregate_type,
        "aggregate_id": validated.aggregate_id(),
        "dedupe_key": dedupe_key,
        "payload": envelope,
    }
    result = await session.execute(_EMIT if dedupe_key is None else _EMIT_ONCE, row)
    return result.first() is not None


async def amend(session: AsyncSession, event: EventPayload, *, dedupe_key: str) -> None:
    """Replace the `data` of the event this transaction emitted under `dedupe_key`.

    For a writer that emits before its last step (to keep that step short) and corrects the event
    when the step turns out otherwise. Only for an event emitted in the same, uncommitted transaction
    (`emit` returned True): no one has seen it yet, so the outbox stays append-only to its readers.
    """
    spec = lookup(event.event_type)
    data = spec.model.model_validate(event.model_dump()).model_dump(mode="json")
    await session.execute(_AMEND, {"key": dedupe_key, "amended": {"data": data}})
