"""The `redis` transport: one stream per topic, one consumer group per consumer (platform.md §8.2)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from packfinderz.config import Settings
from packfinderz.kit.redis import create_redis
from packfinderz.kit.transport.base import Subscription, TransportError

log = structlog.get_logger("transport.redis")

READ_COUNT = 16
MAX_BLOCK_SECONDS = 5.0
MAX_CLAIM_INTERVAL_SECONDS = 15.0
DEAD_STREAM_MAXLEN = 10_000
UNBLOCK_EVERY_SECONDS = 0.1
BODY_FIELD = "body"
# Entries looked at by XPENDING when reading delivery counts of a claimed range.
PENDING_SCAN = 1000


def stream_key(topic: str) -> str:
    return f"pf:events:{topic}"


def dead_stream_key(topic: str) -> str:
    return f"pf:events:dead:{topic}"


class RedisStreamMessage:
    """A stream entry delivered to a consumer group member; nack leaves it pending for redelivery."""

    def __init__(
        self,
        transport: RedisStreamsTransport,
        subscription: Subscription,
        entry_id: str,
        fields: dict[str, str],
    ) -> None:
        self._transport = transport
        self._subscription = subscription
        self.message_id = entry_id
        self.body = fields.get(BODY_FIELD, "").encode()
        self.attributes = {k: v for k, v in fields.items() if k != BODY_FIELD}
        self.delivery_count = 1

    async def ack(self) -> None:
        await self._transport.redis.xack(
            stream_key(self._subscription.topic), self._subscription.consumer, self.message_id
        )

    async def nack(self) -> None:
        # Leaving the entry pending is the nack: XAUTOCLAIM hands it out again once it is idle enough.
        return None

    async def dead_letter(self, error: str) -> None:
        await self._transport.move_to_dead_letters(
            self._subscription, self.message_id, {**self.attributes, BODY_FIELD: self.body.decode()}, error
        )


class RedisStreamsTransport:
    """XADD to publish; XREADGROUP/XACK to consume; XAUTOCLAIM to redeliver; a dead stream per topic."""

    name = "redis"

    def __init__(self, settings: Settings, *, instance: str, url: str | None = None) -> None:
        self.maxlen = settings.events_stream_maxlen
        self.max_deliveries = settings.events_max_deliveries
        self.redelivery_idle = settings.events_redelivery_idle
        # Redelivery is checked every 15 s, or more often when the idle threshold itself is short.
        self.claim_interval = min(MAX_CLAIM_INTERVAL_SECONDS, max(self.redelivery_idle / 2, 0.05))
        self.block_seconds = min(MAX_BLOCK_SECONDS, self.claim_interval)
        events_url = url or (
            settings.events_redis_url.get_secret_value() if settings.events_redis_url is not None else None
        )
        # Stream reads block, so they get their own pool with a socket timeout of block + 5 s.
        self.redis: Redis = create_redis(settings, events_url, socket_timeout=self.block_seconds + 5)
        self.instance = instance
        self._members = itertools.count(1)

    async def setup(self, topics: Sequence[str], subscriptions: Sequence[Subscription]) -> None:
        """XGROUP CREATE … 0 MKSTREAM for every subscription (an existing group is fine)."""
        try:
            for subscription in subscriptions:
                await self._create_group(subscription)
        except RedisError as exc:
            raise TransportError(f"redis setup failed: {type(exc).__name__}") from exc

    async def _create_group(self, subscription: Subscription) -> None:
        try:
            await self.redis.xgroup_create(
                stream_key(subscription.topic), subscription.consumer, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def publish(self, topic: str, attributes: dict[str, str], body: bytes) -> str:
        """XADD <stream> MAXLEN ~ <EVENTS_STREAM_MAXLEN> * <attributes> body <json>."""
        fields: dict[Any, Any] = {**attributes, BODY_FIELD: body.decode()}
        try:
            entry_id = await self.redis.xadd(stream_key(topic), fields, maxlen=self.maxlen, approximate=True)
        except RedisError as exc:
            raise TransportError(f"XADD failed: {type(exc).__name__}: {exc}") from exc
        return str(entry_id)

    async def subscribe(
        self, subscription: Subscription, stop: asyncio.Event
    ) -> AsyncIterator[RedisStreamMessage]:
        """New entries with XREADGROUP, and entries idle past the redelivery threshold with XAUTOCLAIM.

        Blocking reads run on a connection of their own; when `stop` is set, `CLIENT UNBLOCK` ends
        the read at once (cancelling a blocked read is avoided: the client can hang on it).
        """
        reader = Redis(connection_pool=self.redis.connection_pool, single_connection_client=True)
        try:
            waker = asyncio.create_task(self._unblock_on_stop(stop, await reader.client_id()))
            try:
                async for message in self._read(subscription, stop, reader):
                    yield message
            finally:
                waker.cancel()
        finally:
            await reader.aclose()

    async def _unblock_on_stop(self, stop: asyncio.Event, reader_id: int) -> None:
        await stop.wait()
        while True:  # repeated: the read may start just after the first UNBLOCK
            await self.redis.client_unblock(reader_id)
            await asyncio.sleep(UNBLOCK_EVERY_SECONDS)

    async def _read(
        self, subscription: Subscription, stop: asyncio.Event, reader: Redis
    ) -> AsyncIterator[RedisStreamMessage]:
        stream = stream_key(subscription.topic)
        member = f"{self.instance}-{next(self._members)}"
        last_claim = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - last_claim >= self.claim_interval:
                    last_claim = time.monotonic()
                    for message in await self._claim_idle(subscription, member):
                        yield message
                response: Any = await reader.xreadgroup(
                    subscription.consumer,
                    member,
                    {stream: ">"},
                    count=READ_COUNT,
                    block=int(self.block_seconds * 1000),
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise TransportError(f"stream read failed: {exc}") from exc
                # The stream or group vanished (Redis flushed or replaced): recreate and go on.
                log.warning("transport.group_recreated", topic=subscription.topic, consumer=member)
                await self._create_group(subscription)
                continue
            except RedisError as exc:
                raise TransportError(f"stream read failed: {type(exc).__name__}") from exc
            for _, entries in response or []:
                for entry_id, fields in entries:
                    yield RedisStreamMessage(self, subscription, entry_id, fields)

    async def _claim_idle(self, subscription: Subscription, member: str) -> list[RedisStreamMessage]:
        """Claim entries left pending too long; those delivered too often go to the dead stream."""
        stream = stream_key(subscription.topic)
        idle_ms = int(self.redelivery_idle * 1000)
        claimed: list[RedisStreamMessage] = []
        cursor = "0-0"
        while True:
            response = await self.redis.xautoclaim(
                stream, subscription.consumer, member, idle_ms, start_id=cursor, count=READ_COUNT
            )
            cursor, entries = response[0], response[1]
            live = [(entry_id, fields) for entry_id, fields in entries if entry_id is not None and fields]
            counts = await self._delivery_counts(subscription, member, [e for e, _ in live])
            for entry_id, fields in live:
                message = RedisStreamMessage(self, subscription, entry_id, fields)
                message.delivery_count = counts.get(entry_id, 1)
                if message.delivery_count > self.max_deliveries:
                    await message.dead_letter(f"delivered {message.delivery_count - 1} times without ack")
                else:
                    claimed.append(message)
            if cursor in ("0-0", "0") or not entries:
                return claimed

    async def _delivery_counts(
        self, subscription: Subscription, member: str, ids: list[str]
    ) -> dict[str, int]:
        if not ids:
            return {}
        pending = await self.redis.xpending_range(
            stream_key(subscription.topic), subscription.consumer, ids[0], ids[-1], PENDING_SCAN, member
        )
        return {str(p["message_id"]): int(p["times_delivered"]) for p in pending}

    async def move_to_dead_letters(
        self, subscription: Subscription, entry_id: str, fields: dict[str, str], error: str
    ) -> None:
        """XADD the entry to `pf:events:dead:<topic>` with the consumer and error, and XACK it, atomically."""
        dead: dict[Any, Any] = {**fields, "consumer": subscription.consumer, "error": error[:500]}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead_stream_key(subscription.topic), dead, maxlen=DEAD_STREAM_MAXLEN, approximate=True)
            pipe.xack(stream_key(subscription.topic), subscription.consumer, entry_id)
            await pipe.execute()
        log.warning(
            "transport.dead_lettered",
            topic=subscription.topic,
            consumer=subscription.consumer,
            message_id=entry_id,
            event_id=fields.get("event_id"),
            error=error[:200],
        )

    async def probe(self) -> dict[str, Any]:
        """PING on the events connection."""
        if not await self.redis.ping():
            raise TransportError("PING failed")
        return {"adapter": self.name}

    async def close(self) -> None:
        await self.redis.aclose()
