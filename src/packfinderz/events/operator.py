"""Operator actions on the outbox: status, DLQ listing and replay (platform.md §9.6)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from packfinderz.events import repository
from packfinderz.events.relay import Unpublishable, resolve
from packfinderz.kit.db import Database

log = structlog.get_logger("outbox")


@dataclass(frozen=True)
class ReplaySelection:
    """What `outbox replay` acts on."""

    dlq: repository.DlqFilter
    everything: bool = False
    include_published: bool = False
    published_since: datetime | None = None
    limit: int = 100

    @property
    def has_selector(self) -> bool:
        f = self.dlq
        return self.everything or bool(
            f.event_ids or f.event_type or f.reason or f.failed_since or f.failed_until
        )


@dataclass(frozen=True)
class ReplayLine:
    """One event's outcome: replayed | would_replay | skipped."""

    event_id: uuid.UUID
    event_type: str | None
    source: str
    status: str
    detail: str = ""


async def status(db: Database) -> repository.OutboxStats:
    async with db.transaction() as session:
        return await repository.stats(session)


async def list_dead(db: Database, selector: repository.DlqFilter, limit: int) -> list[Any]:
    async with db.transaction() as session:
        return await repository.list_dlq(session, selector, limit, only_dead=False)


async def replay(db: Database, selection: ReplaySelection, *, dry_run: bool) -> list[ReplayLine]:
    """Put selected events back into the outbox as due, one transaction per event, same event_id."""
    async with db.transaction() as session:
        dead = await repository.list_dlq(session, selection.dlq, selection.limit, only_dead=True)
        published: list[Any] = []
        if selection.include_published:
            published = await repository.published_rows(
                session,
                event_ids=selection.dlq.event_ids,
                event_type=selection.dlq.event_type,
                published_since=selection.published_since,
                limit=selection.limit,
            )
    lines: list[ReplayLine] = []
    for source, rows in (("dlq", dead), ("published", published)):
        for row in rows:
            lines.append(await _replay_one(db, row, source, dry_run=dry_run))
    found = {line.event_id for line in lines}
    for missing in selection.dlq.event_ids:
        if missing not in found:
            lines.append(
                ReplayLine(missing, None, "-", "skipped", "not dead-lettered (see --include-published)")
            )
    return lines


async def _replay_one(db: Database, row: Any, source: str, *, dry_run: bool) -> ReplayLine:
    candidate = repository.OutboxRow(
        id=row.event_id,
        event_type=row.event_type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        payload=row.payload,
        created_at=datetime.now().astimezone(),
        attempt_count=0,
    )
    try:
        resolve(candidate)
    except Unpublishable as exc:
        return ReplayLine(row.event_id, row.event_type, source, "skipped", str(exc))
    if dry_run:
        return ReplayLine(row.event_id, row.event_type, source, "would_replay")
    async with db.transaction() as session:
        how = await repository.reset_for_replay(session, row)
        if source == "dlq":
            await repository.count_replay(session, row.event_id)
    log.info("outbox.replayed", event_id=str(row.event_id), event_type=row.event_type, source=source, how=how)
    return ReplayLine(row.event_id, row.event_type, source, "replayed", how)
