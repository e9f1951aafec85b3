"""Consumer framework (worker role `consumers`, platform.md §11.1): decode, guard, handle, ack.

A consumer declares a name, the topics it reads and the event types it handles, and a handler
`async (session, event, deps) -> None` that runs inside a transaction the framework commits; `deps`
carries the worker's own clients (settings, Redis, storage). The Redis
guard `pf:evt:processed:<consumer>:<event_id>` makes a redelivered event a no-op once handled;
handlers are also idempotent in the database, so a crash between commit and guard is harmless.

While a message is handled the guard holds `processing:<token>`, a lease owned by that one delivery:
its TTL is half the redelivery interval and the handler's process renews it every third of that. A
process killed mid-message stops renewing, so its claim is gone before the transport redelivers the
message, and the redelivery is handled instead of being nacked until its deliveries run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
import uuid
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.config import Settings
from packfinderz.events.registry import TOPICS, EventPayload, UnknownEventType, lookup
from packfinderz.kit.aio import wait_any
from packfinderz.kit.db import Database
from packfinderz.kit.storage import create_storage
from packfinderz.kit.storage.base import Storage
from packfinderz.kit.transport import Message, Subscription, Transport, TransportError, create_transport
from packfinderz.kit.worker_context import WorkerContext

log = structlog.get_logger("consumers")

CONSUMER_MESSAGES = Counter(
    "packfinderz_consumer_messages_total", "Messages seen by consumers", ["consumer", "outcome"]
)
CONSUMER_HANDLE_SECONDS = Histogram(
    "packfinderz_consumer_handle_seconds", "Time spent handling a message", ["consumer"]
)

# The `processing` lease: half the redelivery interval, within these bounds (seconds).
GUARD_LEASE_MIN_SECONDS = 1.0
GUARD_LEASE_MAX_SECONDS = 300.0
HANDLE_TIMEOUT_SECONDS = 60.0
RESUBSCRIBE_MAX_SECONDS = 10.0
# Readers end by themselves once stopped; one still running after this long is cancelled.
READER_STOP_SECONDS = 10.0
# Modules that register consumers when imported (each domain adds its own).
CONSUMER_MODULES = (
    "packfinderz.notifications.consumers",
    "packfinderz.media.consumers",
    "packfinderz.delivery.consumers",
    "packfinderz.analytics.consumers",
)


def guard_key(consumer: str, event_id: uuid.UUID | str) -> str:
    """The Redis key recording that a consumer handled an event."""
    return f"pf:evt:processed:{consumer}:{event_id}"


def guard_lease_seconds(settings: Settings) -> float:
    """How long a `processing` claim lives without renewal: half the redelivery interval (bounded)."""
    half = settings.events_redelivery_idle / 2
    return min(max(half, GUARD_LEASE_MIN_SECONDS), GUARD_LEASE_MAX_SECONDS)


# Compare-and-set on the lease token, so a delivery only ever renews or releases its own claim.
_RENEW_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Event:
    """A decoded envelope: the typed payload plus what the envelope says about it."""

    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime | None
    correlation_id: str | None
    actor: dict[str, Any] | None
    data: EventPayload


@dataclass(frozen=True)
class HandlerDeps:
    """What a handler may use besides its transaction and its event: the worker's own clients."""

    settings: Settings
    redis: Redis
    storage: Storage


Handler = Callable[[AsyncSession, Event, HandlerDeps], Awaitable[None]]


class PermanentError(Exception):
    """Raised by a handler for an event it can never handle (bad payload): dropped, not retried."""


@dataclass(frozen=True)
class Consumer:
    """A named reaction to some event types on some topics."""

    name: str
    topics: tuple[str, ...]
    event_types: frozenset[str]
    handler: Handler

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(topic, self.name) for topic in self.topics]


CONSUMERS: dict[str, Consumer] = {}


def register_consumer(consumer: Consumer) -> Consumer:
    """Add a consumer to the registry (at import time of its module)."""
    unknown = [t for t in consumer.topics if t not in TOPICS]
    if unknown:
        raise ValueError(f"consumer {consumer.name}: unknown topics {unknown}")
    for event_type in consumer.event_types:
        lookup(event_type)
    CONSUMERS[consumer.name] = consumer
    return consumer


class Subscriber(Protocol):
    """A consumer of a subscription of its own rather than of registered topics (ConsumersRole runs it)."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...

    def heartbeat_count(self) -> int: ...


RecordError = Callable[[str, str], None]
SubscriberFactory = Callable[[Settings, Database, Storage, RecordError | None], Subscriber | None]
"""Builds a domain's subscriber for this worker, or None when its configuration leaves it off."""

# Filled by the domains at import time of their consumer modules (the worker never imports a domain).
SUBSCRIBERS: dict[str, SubscriberFactory] = {}


def register_subscriber(name: str, factory: SubscriberFactory) -> SubscriberFactory:
    """Add a subscription consumer (at import time of its module); ConsumersRole builds and runs it."""
    SUBSCRIBERS[name] = factory
    return factory


def load_consumers() -> dict[str, Consumer]:
    """Import every module that registers consumers; the registry by name."""
    for module in CONSUMER_MODULES:
        importlib.import_module(module)
    return CONSUMERS


class BadEnvelope(Exception):
    """The message body is not an envelope of a registered event."""


def decode(message: Message) -> tuple[str, dict[str, Any]]:
    """The event type and envelope of a message; BadEnvelope when the body is not JSON."""
    try:
        envelope = json.loads(message.body)
    except (ValueError, UnicodeDecodeError):
        raise BadEnvelope("body is not JSON") from None
    if not isinstance(envelope, dict):
        raise BadEnvelope("body is not a JSON object")
    event_type = envelope.get("event_type") or message.attributes.get("event_type")
    if not isinstance(event_type, str):
        raise BadEnvelope("event_type missing")
    return event_type, envelope


def to_event(event_type: str, envelope: dict[str, Any], attributes: dict[str, str]) -> Event:
    """Validate an envelope through the registry; BadEnvelope when it does not fit."""
    try:
        event_id = uuid.UUID(str(envelope.get("event_id") or attributes.get("event_id")))
    except ValueError:
        raise BadEnvelope("event_id is not a UUID") from None
    try:
        spec = lookup(event_type)
        data = spec.model.model_validate(envelope.get("data"))
    except UnknownEventType:
        raise BadEnvelope(f"unregistered event type {event_type}") from None
    except ValidationError as exc:
        raise BadEnvelope(f"data invalid: {exc.errors()[0]['msg']}") from None
    occurred = envelope.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred.replace("Z", "+00:00")) if occurred else None
    except (AttributeError, ValueError):
        occurred_at = None
    actor = envelope.get("actor")
    correlation = envelope.get("correlation_id")
    return Event(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        correlation_id=correlation if isinstance(correlation, str) else None,
        actor=actor if isinstance(actor, dict) else None,
        data=data,
    )


class ConsumerRunner:
    """Runs consumers over a transport: CONSUMER_CONCURRENCY messages in flight per consumer."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        redis: Redis,
        transport: Transport,
        consumers: Iterable[Consumer],
        *,
        storage: Storage | None = None,
        processing_ttl: float | None = None,
        record_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.deps = HandlerDeps(settings, redis, storage if storage is not None else create_storage(settings))
        self.transport = transport
        self.consumers = list(consumers)
        # The lease of a `processing` claim (seconds); renewed every third of it while handling.
        self.processing_ttl = processing_ttl if processing_ttl is not None else guard_lease_seconds(settings)
        self.done_ttl = max(int(settings.eventing_idempotency_ttl), 1)
        self.max_deliveries = max(settings.events_max_deliveries, 1)
        # A hung handler (a connection stuck across a database or Redis restart) is cancelled and its
        # claim released well before the transport's deliveries run out, so the event is handled by a
        # later delivery instead of being dead-lettered behind a claim its own owner keeps renewing.
        budget = settings.events_redelivery_idle * (self.max_deliveries - 1) / 2
        self.handle_timeout = min(HANDLE_TIMEOUT_SECONDS, max(budget, 1.0))
        self.concurrency = max(settings.consumer_concurrency, 1)
        self.record_error = record_error
        self.handled_since_beat: Tally[str] = Tally()
        self.dead_lettered_since_beat = 0

    async def setup(self) -> None:
        """Create (or verify) every topic and each consumer's subscriptions."""
        subscriptions = [s for c in self.consumers for s in c.subscriptions()]
        await self.transport.setup(TOPICS, subscriptions)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`, then let in-flight messages finish (the worker bounds the wait)."""
        await self.setup()
        in_flight: set[asyncio.Task[None]] = set()
        # One semaphore per consumer, shared by its topics.
        slots = {consumer.name: asyncio.Semaphore(self.concurrency) for consumer in self.consumers}
        readers = [
            asyncio.create_task(self._read(consumer, subscription, slots[consumer.name], in_flight, stop))
            for consumer in self.consumers
            for subscription in consumer.subscriptions()
        ]
        log.info("consumers.started", consumers=[c.name for c in self.consumers])
        try:
            await stop.wait()
            # Readers stop by themselves (the transport ends a blocked read on `stop`); cancelling a
            # blocked Redis read is the last resort, as the client can hang on it.
            await asyncio.wait(readers, timeout=READER_STOP_SECONDS)
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _read(
        self,
        consumer: Consumer,
        subscription: Subscription,
        slots: asyncio.Semaphore,
        in_flight: set[asyncio.Task[None]],
        stop: asyncio.Event,
    ) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                async for message in self.transport.subscribe(subscription, stop):
                    await slots.acquire()
                    task = asyncio.create_task(self._process_and_release(consumer, message, slots))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    delay = 0.5
            except TransportError as exc:
                log.error(
                    "consumers.subscription_failed",
                    consumer=consumer.name,
                    topic=subscription.topic,
                    error=str(exc)[:300],
                )
                if self.record_error:
                    self.record_error(f"consumer:{consumer.name}", str(exc))
                await wait_any(stop, seconds=delay)
                delay = min(delay * 2, RESUBSCRIBE_MAX_SECONDS)

    async def _process_and_release(
        self, consumer: Consumer, message: Message, slots: asyncio.Semaphore
    ) -> None:
        try:
            await self.process(consumer, message)
        except Exception as exc:  # never lose the reader over one message
            log.error("consumers.process_crashed", consumer=consumer.name, exc_info=exc)
        finally:
            slots.release()

    async def process(self, consumer: Consumer, message: Message) -> str:
        """Handle one delivery and settle it (ack, nack or dead-letter); returns the outcome."""
        started = time.perf_counter()
        fields: dict[str, Any] = {
            "consumer": consumer.name,
            "message_id": message.message_id,
            "delivery_attempt": message.delivery_count,
            "event_id": message.attributes.get("event_id"),
            "event_type": message.attributes.get("event_type"),
        }
        try:
            event_type, envelope = decode(message)
            fields["event_type"] = event_type
            if event_type not in consumer.event_types:
                await message.ack()
                return self._outcome(consumer, "ignored", fields, started)
            event = to_event(event_type, envelope, message.attributes)
        except BadEnvelope as exc:
            await message.ack()
            log.warning("consumer.bad_envelope", error=str(exc), **fields)
            return self._outcome(consumer, "dropped", fields, started)
        fields["event_id"] = str(event.event_id)
        fields["correlation_id"] = event.correlation_id
        outcome = await self._guarded(consumer, message, event, fields)
        return self._outcome(consumer, outcome, fields, started)

    async def _guarded(
        self, consumer: Consumer, message: Message, event: Event, fields: dict[str, Any]
    ) -> str:
        key = guard_key(consumer.name, event.event_id)
        claim = f"processing:{uuid.uuid4().hex}"
        lease_ms = max(int(self.processing_ttl * 1000), 1)
        try:
            claimed = await self.redis.set(key, claim, nx=True, px=lease_ms)
            if not claimed:
                state = await self.redis.get(key)
                if state == "done":
                    await message.ack()
                    return "duplicate"
                # Being handled by a live delivery elsewhere (a dead one's lease runs out within
                # half the redelivery interval, so the next redelivery finds the key free).
                await message.nack()
                return "retry"
        except Exception as exc:
            await message.nack()
            log.warning("consumer.guard_unavailable", error=type(exc).__name__, **fields)
            return "retry"
        renewer = asyncio.create_task(self._renew_claim(key, claim, lease_ms))
        try:
            async with asyncio.timeout(self.handle_timeout), self.db.transaction() as session:
                await consumer.handler(session, event, self.deps)
        except PermanentError as exc:
            await self._stop_renewing(renewer)
            await self._mark_done(key, fields)
            await message.ack()
            log.error("consumer.permanent_failure", error=str(exc)[:300], **fields)
            return "dropped"
        except Exception as exc:
            await self._stop_renewing(renewer)
            error = f"{type(exc).__name__}: {exc}"[:500]
            with contextlib.suppress(Exception):
                await self.redis.eval(_RELEASE_CLAIM, 1, key, claim)
            if self.record_error:
                self.record_error(f"consumer:{consumer.name}", error)
            if message.delivery_count >= self.max_deliveries:
                await message.dead_letter(error)
                self.dead_lettered_since_beat += 1
                log.error("consumer.dead_lettered", error=error, **fields)
                return "dead_lettered"
            await message.nack()
            log.warning("consumer.retry", error=error, **fields)
            return "retry"
        except BaseException:
            await self._stop_renewing(renewer)
            raise
        await self._stop_renewing(renewer)
        await self._mark_done(key, fields)
        await message.ack()
        self.handled_since_beat[consumer.name] += 1
        return "ok"

    async def _renew_claim(self, key: str, claim: str, lease_ms: int) -> None:
        """Keep this delivery's `processing` lease alive while its handler runs (every third of it)."""
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                if not await self.redis.eval(_RENEW_CLAIM, 1, key, claim, lease_ms):
                    return  # lost (expired while Redis was away, or taken over): nothing left to renew
            except Exception as exc:
                # Redis away for a moment: try again next period; the database side stays idempotent.
                log.warning("consumer.guard_renew_failed", error=type(exc).__name__, key=key)

    @staticmethod
    async def _stop_renewing(renewer: asyncio.Task[None]) -> None:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)

    async def _mark_done(self, key: str, fields: dict[str, Any]) -> None:
        try:
            await self.redis.set(key, "done", ex=self.done_ttl)
        except Exception as exc:
            # The database side is idempotent, so a lost guard only costs a harmless re-run.
            log.warning("consumer.guard_store_failed", error=type(exc).__name__, **fields)

    def _outcome(self, consumer: Consumer, outcome: str, fields: dict[str, Any], started: float) -> str:
        elapsed = time.perf_counter() - started
        CONSUMER_MESSAGES.labels(consumer.name, outcome).inc()
        CONSUMER_HANDLE_SECONDS.labels(consumer.name).observe(elapsed)
        level = log.debug if outcome in ("ignored", "duplicate") else log.info
        level("consumer.message", outcome=outcome, duration_ms=round(elapsed * 1000, 2), **fields)
        return outcome

    def heartbeat_fields(self) -> dict[str, Any]:
        """events_handled {consumer: n since the last beat} and dead_lettered since the last beat."""
        handled = {c.name: self.handled_since_beat.get(c.name, 0) for c in self.consumers}
        dead, self.dead_lettered_since_beat = self.dead_lettered_since_beat, 0
        self.handled_since_beat.clear()
        return {"events_handled": handled, "dead_lettered": dead}


def enabled_consumers(settings: Settings) -> list[Consumer]:
    """Registered consumers filtered by CONSUMERS_ENABLED (unknown names are logged and ignored)."""
    registry = load_consumers()
    wanted = settings.enabled_consumers
    if wanted is None:
        return list(registry.values())
    for name in sorted(wanted - registry.keys() - SUBSCRIBERS.keys()):
        log.warning("consumers.unknown_enabled", consumer=name)
    return [c for name, c in registry.items() if name in wanted]


class ConsumersRole:
    """Worker role `consumers`: every enabled consumer over the configured transport, plus the
    subscription consumers the domains registered (the GCS notifications' `media-storage` when storage
    is gcs), whatever the transport."""

    name = "consumers"

    def __init__(self, ctx: WorkerContext) -> None:
        storage = create_storage(ctx.settings)
        self.transport = create_transport(ctx.settings, topics=TOPICS)
        self.runner = ConsumerRunner(
            ctx.settings,
            ctx.db,
            ctx.redis,
            self.transport,
            enabled_consumers(ctx.settings),  # loads the consumer modules, which register the subscribers
            storage=storage,
            record_error=ctx.record_error,
        )
        built = (factory(ctx.settings, ctx.db, storage, ctx.record_error) for factory in SUBSCRIBERS.values())
        self.subscribers = [subscriber for subscriber in built if subscriber is not None]

    async def run(self, ctx: WorkerContext) -> None:
        try:
            if not self.subscribers:
                await self.runner.run(ctx.stop)
            else:
                # A TaskGroup: if one side fails the others are cancelled and the role fails as a whole.
                async with asyncio.TaskGroup() as group:
                    group.create_task(self.runner.run(ctx.stop))
                    for subscriber in self.subscribers:
                        group.create_task(subscriber.run(ctx.stop))
        finally:
            await self.transport.close()

    def heartbeat_fields(self) -> dict[str, Any]:
        fields = self.runner.heartbeat_fields()
        for subscriber in self.subscribers:
            fields["events_handled"][subscriber.name] = subscriber.heartbeat_count()
        return fields
