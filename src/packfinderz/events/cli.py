"""`packfinderz outbox status|dlq|replay` (platform.md §9.6)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from packfinderz.events import operator
from packfinderz.events.repository import DlqFilter
from packfinderz.kit.boot import process_settings
from packfinderz.kit.db import Database, create_database

outbox_app = typer.Typer(no_args_is_help=True, help="Inspect and replay the transactional outbox.")
T = TypeVar("T")
REASONS = ("max_attempts", "non_retryable")


def _run(action: Callable[[Database], Awaitable[T]]) -> T:
    """Run an async action against the configured database (settings group `db`)."""
    settings = process_settings({"db"}, "cli")

    async def main() -> T:
        database = create_database(settings)
        try:
            return await action(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def _timestamp(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        typer.echo(f"{option}: not an ISO 8601 timestamp: {value}", err=True)
        raise typer.Exit(1) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _uuids(values: list[str] | None) -> tuple[uuid.UUID, ...]:
    try:
        return tuple(uuid.UUID(v) for v in values or [])
    except ValueError:
        typer.echo("--event-id: not a UUID", err=True)
        raise typer.Exit(1) from None


def _reason(value: str | None) -> str | None:
    if value is not None and value not in REASONS:
        typer.echo(f"--reason must be one of: {', '.join(REASONS)}", err=True)
        raise typer.Exit(1)
    return value


@outbox_app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Pending, due, failing and dead-lettered counts, and the oldest unpublished event's age."""
    stats = _run(operator.status)
    figures = {
        "pending": stats.pending,
        "due": stats.due,
        "failing": stats.failing,
        "dead_lettered": stats.dead_lettered,
        "oldest_unpublished_age_seconds": stats.oldest_pending_age_seconds,
    }
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        typer.echo(f"{name + ':':33} {'-' if value is None else value}")


@outbox_app.command("dlq")
def dlq_command(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to show.")] = 50,
    event_type: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    reason: Annotated[str | None, typer.Option(help="max_attempts or non_retryable.")] = None,
) -> None:
    """Dead-lettered events, newest first."""
    selector = DlqFilter(event_type=event_type, reason=_reason(reason))
    rows = _run(lambda db: operator.list_dead(db, selector, limit))
    if not rows:
        typer.echo("the DLQ is empty")
        return
    for row in rows:
        state = "dead" if row.dead else f"replayed x{row.replay_count}"
        error = (row.error_message or "").replace("\n", " ")[:160]
        typer.echo(
            f"{row.event_id}  {row.event_type}  {row.error_reason}  attempts={row.attempt_count}  "
            f"failed_at={row.failed_at.isoformat()}  {state}  {error}"
        )


@outbox_app.command("replay")
def replay_command(  # noqa: PLR0917 - one parameter per CLI option
    event_id: Annotated[list[str] | None, typer.Option("--event-id", help="Event id (repeatable).")] = None,
    event_type: Annotated[str | None, typer.Option(help="Every dead event of this type.")] = None,
    reason: Annotated[str | None, typer.Option(help="max_attempts or non_retryable.")] = None,
    failed_since: Annotated[str | None, typer.Option(help="Failed at or after (ISO 8601).")] = None,
    failed_until: Annotated[str | None, typer.Option(help="Failed at or before (ISO 8601).")] = None,
    everything: Annotated[bool, typer.Option("--all", "--all-dlq", help="Every dead event.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many events.")] = 100,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed.")] = False,
    include_published: Annotated[
        bool, typer.Option("--include-published", help="Also publish matching published events again.")
    ] = False,
    published_since: Annotated[
        str | None, typer.Option(help="With --include-published: published at or after (ISO 8601).")
    ] = None,
) -> None:
    """Put DLQ events back into the outbox as due (same event_id); the relay publishes them again."""
    selection = operator.ReplaySelection(
        dlq=DlqFilter(
            event_ids=_uuids(event_id),
            event_type=event_type,
            reason=_reason(reason),
            failed_since=_timestamp(failed_since, "--failed-since"),
            failed_until=_timestamp(failed_until, "--failed-until"),
        ),
        everything=everything,
        include_published=include_published,
        published_since=_timestamp(published_since, "--published-since"),
        limit=limit,
    )
    if not selection.has_selector:
        typer.echo(
            "choose events: --event-id, --event-type, --reason, --failed-since/--failed-until or --all",
            err=True,
        )
        raise typer.Exit(1)
    if include_published and not (selection.published_since or selection.dlq.event_ids):
        typer.echo("--include-published needs --published-since or --event-id", err=True)
        raise typer.Exit(1)
    lines = _run(lambda db: operator.replay(db, selection, dry_run=dry_run))
    for line in lines:
        detail = f": {line.detail}" if line.detail else ""
        typer.echo(f"{line.event_id}  {line.event_type or '-'}  {line.source}  {line.status}{detail}")
    totals = {
        status: sum(1 for line in lines if line.status == status)
        for status in ("replayed", "would_replay", "skipped")
    }
    typer.echo("total: " + ", ".join(f"{k} {v}" for k, v in totals.items() if v or k == "replayed"))
    if totals["skipped"]:
        raise typer.Exit(1)
