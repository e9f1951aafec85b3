"""Consumer `media-storage` (platform.md §8.1, §11.5): pulls GCS_NOTIFICATION_SUBSCRIPTION in the worker.

The bucket notifications are not our event envelopes, so they bypass ConsumerRunner and its Redis guard:
`apply_notification` is idempotent by state. It runs in the `consumers` role whatever EVENTS_TRANSPORT is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from packfinderz.config import Settings
from packfinderz.events.consumer import (
    CONSUMER_HANDLE_SECONDS,
    CONSUMER_MESSAGES,
    HANDLE_TIMEOUT_SECONDS,
    RESUBSCRIBE_MAX_SECONDS,
    RecordError,
    register_subscriber,
)
from packfinderz.kit.aio import wait_any
from packfinderz.kit.db import Database
from packfinderz.kit.storage.base import Storage
from packfinderz.kit.transport.base import TransportError
from packfinderz.kit.transport.pubsub import streaming_pull, subscriber_client
from packfinderz.media.storage_events import apply_notification, parse_notification

log = structlog.get_logger("consumers")

NAME = "media-storage"


def storage_events_enabled(settings: Settings) -> bool:
    """True with STORAGE_ADAPTER=gcs, GCS_NOTIFICATION_SUBSCRIPTION set and the consumer enabled."""
    wanted = settings.enabled_consumers
    return (
        settings.storage_adapter == "gcs"
        and bool(settings.gcs_notification_subscription)
        and (wanted is None or NAME in wanted)
    )


def subscription_path(settings: Settings) -> str:
    """GCS_NOTIFICATION_SUBSCRIPTION as a full path (a bare id lives in GCP_PROJECT_ID)."""
    name = settings.gcs_notification_subscription or ""
    return (
        name if name.startswith("projects/") else f"projects/{settings.gcp_project_id}/subscriptions/{name}"
    )


def is_transient(exc: BaseException) -> bool:
    """Database trouble that a redelivery can get past (connection lost, timeout); nacked, not dropped."""
    if isinstance(exc, OperationalError | InterfaceError | TimeoutError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class StorageEventsSubscriber:
    """Streaming pull of the notification subscription, CONSUMER_CONCURRENCY messages in flight."""

    name = NAME

    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        *,
        record_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.path = subscription_path(settings)
        self.buckets = frozenset(b for b in (settings.gcs_bucket_name, settings.gcs_public_bucket_name) if b)
        self.concurrency = max(settings.consumer_concurrency, 1)
        self.record_error = record_error
        self.subscriber = subscriber_client(settings)
        self.handled_since_beat = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Pull until `stop` (re-subscribing with backoff after failures), then finish in-flight messages."""
        in_flight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self.concurrency)
        delay = 0.5
        log.info("consumers.started", consumers=[NAME], subscription=self.path)
        try:
            while not stop.is_set():
                try:
                    pull = streaming_pull(self.subscriber, self.path, self.concurrency, stop)
                    async with contextlib.aclosing(pull) as messages:
                        async for message in messages:
                            await slots.acquire()
                            task = asyncio.create_task(self._process_and_release(message, slots))
                            in_flight.add(task)
                            task.add_done_callback(in_flight.discard)
                            delay = 0.5
                except TransportError as exc:
                    log.error("consumers.subscription_failed", consumer=NAME, error=str(exc)[:300])
                    if self.record_error:
                        self.record_error(f"consumer:{NAME}", str(exc))
                    await wait_any(stop, seconds=delay)
                    delay = min(delay * 2, RESUBSCRIBE_MAX_SECONDS)
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.to_thread(self.subscriber.close)

    async def _process_and_release(self, message: Any, slots: asyncio.Semaphore) -> None:
        try:
            await self.process(message)
        except Exception as exc:  # never lose the puller over one message
            log.error("consumers.process_crashed", consumer=NAME, exc_info=exc)
        finally:
            slots.release()

    async def process(self, message: Any) -> str:
        """Apply one notification and settle it: ack unless a transient error asks for a redelivery."""
        started = time.perf_counter()
        attributes = dict(message.attributes)
        fields = {
            "consumer": NAME,
            "message_id": str(message.message_id),
            "event_type": attributes.get("eventType"),
            "key": attributes.get("objectId"),
        }
        note = parse_notification(attributes, bytes(message.data), self.buckets)
        if note is None:
            message.ack()
            return self._outcome("dropped", fields, started)
        try:
            async with self.db.transaction() as session:
                outcome = await asyncio.wait_for(
                    apply_notification(session, self.storage, note), HANDLE_TIMEOUT_SECONDS
                )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            if is_transient(exc):
                message.nack()
                if self.record_error:
                    self.record_error(f"consumer:{NAME}", error)
                log.warning("consumer.retry", error=error, **fields)
                return self._outcome("retry", fields, started)
            message.ack()
            log.error("consumer.permanent_failure", error=error, **fields)
            return self._outcome("dropped", fields, started)
        message.ack()
        self.handled_since_beat += 1
        return self._outcome(outcome, fields, started)

    def _outcome(self, outcome: str, fields: dict[str, Any], started: float) -> str:
        elapsed = time.perf_counter() - started
        CONSUMER_MESSAGES.labels(NAME, outcome).inc()
        CONSUMER_HANDLE_SECONDS.labels(NAME).observe(elapsed)
        log.info("consumer.message", outcome=outcome, duration_ms=round(elapsed * 1000, 2), **fields)
        return outcome

    def heartbeat_count(self) -> int:
        """Notifications applied since the last heartbeat (then reset)."""
        count, self.handled_since_beat = self.handled_since_beat, 0
        return count


def build_subscriber(
    settings: Settings, db: Database, storage: Storage, record_error: RecordError | None
) -> StorageEventsSubscriber | None:
    """The worker's `media-storage` subscriber, or None unless storage_events_enabled."""
    if not storage_events_enabled(settings):
        return None
    return StorageEventsSubscriber(settings, db, storage, record_error=record_error)


register_subscriber(NAME, build_subscriber)
