"""The outbox relay (worker role `relay`, platform.md §9.4): claim due rows, publish, record."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from packfinderz.config import Settings
from packfinderz.events import repository
from packfinderz.events.outbox import NOTIFY_CHANNEL, iso_z
from packfinderz.events.registry import TOPICS, UnknownEventType, lookup
from packfinderz.kit.aio import wait_any
from packfinderz.kit.db import Database
from packfinderz.kit.transport import Transport, create_transport
from packfinderz.kit.transport.base import PUBLISH_TIMEOUT_SECONDS
from packfinderz.kit.worker_context import WorkerContext

log = structlog.get_logger("relay")

OUTBOX_PUBLISHED = Counter("packfinderz_outbox_published_total", "Outbox events published", ["event_type"])
OUTBOX_PUBLISH_ERRORS = Counter(
    "packfinderz_outbox_publish_errors_total", "Outbox publish failures", ["event_type"]
)
OUTBOX_DEAD_LETTERED = Counter(
    "packfinderz_outbox_dead_lettered_total", "Outbox events moved to the DLQ", ["reason"]
)
OUTBOX_PENDING = Gauge("packfinderz_outbox_pending", "Unpublished outbox events")
OUTBOX_OLDEST_AGE = Gauge(
    "packfinderz_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox event"
)

SAMPLE_INTERVAL_SECONDS = 15.0
IDLE_JITTER_SECONDS = 0.25
MAX_ERROR_SLEEP_SECONDS = 10.0
DEFAULT_BATCH, DEFAULT_POLL_MS, DEFAULT_MAX_ATTEMPTS = 50, 500, 10


@dataclass(frozen=True)
class Resolved:
    """A row ready to publish: its topic, attributes and body."""

    row: repository.OutboxRow
    topic: str
    attributes: dict[str, str]
    body: bytes


class Unpublishable(Exception):
    """A row that can never be published as it is (terminal `non_retryable`)."""


def resolve(row: repository.OutboxRow) -> Resolved:
    """Check a row against the current registry and build what is published; Unpublishable if invalid."""
    try:
        spec = lookup(row.event_type)
    except UnknownEventType:
        raise Unpublishable(f"unregistered event type {row.event_type!r}") from None
    if row.aggregate_type != spec.aggregate_type:
        raise Unpublishable(f"aggregate_type {row.aggregate_type!r} is not {spec.aggregate_type!r}")
    if row.aggregate_id is None:
        raise Unpublishable("aggregate_id is null")
    envelope = row.payload
    if (
        not isinstance(envelope, dict)
        or envelope.get("event_id") != str(row.id)
        or envelope.get("event_type") != row.event_type
        or not isinstance(envelope.get("version"), int)
    ):
        raise Unpublishable("envelope is not parsable")
    data = envelope.get("data")
    if not isinstance(data, dict) or not data:
        raise Unpublishable("data is empty")
    try:
        spec.model.model_validate(data)
    except ValidationError as exc:
        raise Unpublishable(
            f"data does not match the {row.event_type} schema: {exc.errors()[0]['msg']}"
        ) from None
    attributes = {
        "event_id": str(row.id),
        "event_type": row.event_type,
        "aggregate_type": row.aggregate_type,
        "aggregate_id": str(row.aggregate_id),
        "created_at": iso_z(row.created_at),
        "version": str(envelope["version"]),
    }
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    return Resolved(row, spec.topic, attributes, body)


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """min(cap, base * 2^(attempt - 1)) * U[0.5, 1.0] (platform.md §9.4)."""
    return float(min(cap, base * 2 ** max(attempt - 1, 0)) * random.uniform(0.5, 1.0))


@dataclass
class BatchResult:
    """What one relay pass did."""

    claimed: int = 0
    published: int = 0
    retried: int = 0
    dead_lettered: int = 0


class Relay:
    """Publishes the outbox; several relays can run at once (SKIP LOCKED + lease)."""

    name = "relay"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        transport: Transport,
        record_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.record_error = record_error
        self.db = db
        self.transport = transport
        self.batch_size = _positive(settings.outbox_publish_batch_size, DEFAULT_BATCH)
        self.poll_seconds = _positive(settings.outbox_publish_poll_ms, DEFAULT_POLL_MS) / 1000
        self.max_attempts = _positive(settings.outbox_max_attempts, DEFAULT_MAX_ATTEMPTS)
        self.published_since_beat = 0
        self.stats: repository.OutboxStats | None = None
        self._wake = asyncio.Event()

    async def publish_batch(self) -> BatchResult:
        """Claim, publish and record one batch."""
        async with self.db.transaction() as session:
            rows = await repository.claim_due(session, self.batch_size, self.settings.outbox_claim_lease)
        result = BatchResult(claimed=len(rows))
        if not rows:
            return result
        resolved: list[Resolved] = []
        terminals: list[dict[str, Any]] = []
        for row in rows:
            try:
                resolved.append(resolve(row))
            except Unpublishable as exc:
                terminals.append({"id": row.id, "reason": "non_retryable", "error": str(exc), "increment": 0})
        outcomes = await asyncio.gather(*(self._publish(item) for item in resolved))
        published: list[uuid.UUID] = []
        retries: list[dict[str, Any]] = []
        for item, error in zip(resolved, outcomes, strict=True):
            row = item.row
            if error is None:
                published.append(row.id)
                continue
            attempt = row.attempt_count + 1
            if attempt < self.max_attempts:
                delay = backoff_seconds(
                    attempt, self.settings.outbox_backoff_base, self.settings.outbox_backoff_max
                )
                retries.append({"id": row.id, "error": error, "delay": delay})
                log.warning(
                    "outbox.publish_failed",
                    event_id=str(row.id),
                    event_type=row.event_type,
                    aggregate_type=row.aggregate_type,
                    aggregate_id=str(row.aggregate_id),
                    topic=item.topic,
                    attempt_count=attempt,
                    next_attempt_in_seconds=round(delay, 3),
                    error_reason="publish_failed",
                    last_error=error[:300],
                )
            else:
                terminals.append({"id": row.id, "reason": "max_attempts", "error": error, "increment": 1})
        async with self.db.transaction() as session:
            await repository.mark_published(session, published)
            await repository.mark_retry(session, retries)
            await repository.mark_terminal(session, terminals)
        self._after_record(rows, published, terminals)
        result.published, result.retried, result.dead_lettered = len(published), len(retries), len(terminals)
        return result

    async def _publish(self, item: Resolved) -> str | None:
        """Publish one row; None on broker ack, else the error message."""
        try:
            await asyncio.wait_for(
                self.transport.publish(item.topic, item.attributes, item.body), PUBLISH_TIMEOUT_SECONDS
            )
        except TimeoutError:
            OUTBOX_PUBLISH_ERRORS.labels(item.row.event_type).inc()
            return f"publish timed out after {PUBLISH_TIMEOUT_SECONDS:g}s"
        except Exception as exc:
            OUTBOX_PUBLISH_ERRORS.labels(item.row.event_type).inc()
            return f"{type(exc).__name__}: {exc}"
        return None

    def _after_record(
        self, rows: list[repository.OutboxRow], published: list[uuid.UUID], terminals: list[dict[str, Any]]
    ) -> None:
        by_id = {row.id: row for row in rows}
        for event_id in published:
            row = by_id[event_id]
            OUTBOX_PUBLISHED.labels(row.event_type).inc()
            log.info(
                "outbox.published",
                event_id=str(row.id),
                event_type=row.event_type,
                aggregate_type=row.aggregate_type,
                aggregate_id=str(row.aggregate_id),
                topic=lookup(row.event_type).topic,
                attempt_count=row.attempt_count + 1,
                batch_size=len(rows),
            )
        for terminal in terminals:
            row = by_id[terminal["id"]]
            OUTBOX_DEAD_LETTERED.labels(terminal["reason"]).inc()
            log.error(
                "outbox.dead_lettered",
                event_id=str(row.id),
                event_type=row.event_type,
                aggregate_type=row.aggregate_type,
                aggregate_id=str(row.aggregate_id) if row.aggregate_id else None,
                attempt_count=row.attempt_count + terminal["increment"],
                error_reason=terminal["reason"],
                last_error=terminal["error"][:300],
            )
        self.published_since_beat += len(published)

    # --- the role ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop`: at once while rows are claimed, else wait for NOTIFY or the poll interval."""
        error_sleep = 0.0
        sampler = asyncio.create_task(self._sample_loop(stop))
        try:
            async with self._notifications():
                while not stop.is_set():
                    # Cleared before claiming, so a NOTIFY that lands during the batch is not lost.
                    self._wake.clear()
                    try:
                        result = await self.publish_batch()
                    except Exception as exc:
                        error_sleep = min(max(error_sleep * 2, 0.5), MAX_ERROR_SLEEP_SECONDS)
                        message = f"{type(exc).__name__}: {exc}"[:300]
                        log.error("relay.loop_error", error=message)
                        if self.record_error:
                            self.record_error("relay", message)
                        await wait_any(stop, seconds=error_sleep + random.uniform(0, IDLE_JITTER_SECONDS))
                        continue
                    if result.claimed and result.published == 0 and result.retried == result.claimed:
                        # Every publish failed: the broker is likely down; back off like a loop error.
                        error_sleep = min(max(error_sleep * 2, 0.5), MAX_ERROR_SLEEP_SECONDS)
                        await wait_any(stop, seconds=error_sleep + random.uniform(0, IDLE_JITTER_SECONDS))
                        continue
                    error_sleep = 0.0
                    if result.claimed:
                        continue
                    await wait_any(
                        stop, self._wake, seconds=self.poll_seconds + random.uniform(0, IDLE_JITTER_SECONDS)
                    )
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    @contextlib.asynccontextmanager
    async def _notifications(self) -> AsyncIterator[None]:
        """LISTEN pf_outbox on a dedicated connection; polling still works when this fails."""
        connection: AsyncConnection | None = None
        driver: Any = None
        try:
            connection = await self.db.engine.connect()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            await driver.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except Exception as exc:
            log.warning("relay.listen_unavailable", error=type(exc).__name__)
            driver = None
        try:
            yield
        finally:
            if driver is not None:
                with contextlib.suppress(Exception):
                    await driver.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _sample_loop(self, stop: asyncio.Event) -> None:
        """Refresh the outbox gauges (and the heartbeat figures) every 15 s."""
        while not stop.is_set():
            try:
                async with self.db.transaction() as session:
                    self.stats = await repository.stats(session)
                OUTBOX_PENDING.set(self.stats.pending)
                OUTBOX_OLDEST_AGE.set(self.stats.oldest_pending_age_seconds or 0)
            except Exception as exc:
                log.warning("relay.sample_failed", error=type(exc).__name__)
            await wait_any(stop, seconds=SAMPLE_INTERVAL_SECONDS)

    def heartbeat_fields(self) -> dict[str, Any]:
        """relay_published (since the last beat), relay_pending, relay_lag_seconds."""
        published, self.published_since_beat = self.published_since_beat, 0
        return {
            "relay_published": published,
            "relay_pending": self.stats.pending if self.stats else None,
            "relay_lag_seconds": (self.stats.oldest_due_age_seconds or 0.0) if self.stats else None,
        }


class RelayRole:
    """Worker role `relay`: one Relay over the configured transport."""

    name = "relay"

    def __init__(self, ctx: WorkerContext) -> None:
        self.transport = create_transport(ctx.settings, topics=TOPICS)
        self.relay = Relay(ctx.settings, ctx.db, self.transport, ctx.record_error)

    async def run(self, ctx: WorkerContext) -> None:
        try:
            # Pub/Sub topics are created (dev, emulator) or verified (prod) before the first publish.
            await self.transport.setup(TOPICS, [])
            await self.relay.run(ctx.stop)
        finally:
            await self.transport.close()

    def heartbeat_fields(self) -> dict[str, Any]:
        return self.relay.heartbeat_fields()


def _positive(value: int, default: int) -> int:
    """Settings documented as `≤ 0 → default`."""
    return value if value > 0 else default
