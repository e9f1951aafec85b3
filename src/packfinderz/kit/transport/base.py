"""The event transport contract (platform.md §8.2): publish with broker ack, subscribe with ack/nack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

PUBLISH_TIMEOUT_SECONDS = 10.0
# Attributes every published event carries (platform.md §8.2).
ATTRIBUTE_NAMES = ("event_id", "event_type", "aggregate_type", "aggregate_id", "created_at", "version")


class TransportError(Exception):
    """A broker operation failed (retryable from the caller's point of view)."""


class Message(Protocol):
    """One delivery of a published event to one subscription."""

    message_id: str
    attributes: dict[str, str]
    body: bytes
    delivery_count: int

    async def ack(self) -> None:
        """Done with the message: it is never delivered to this subscription again."""

    async def nack(self) -> None:
        """Not handled: deliver it again later (the delivery count grows)."""

    async def dead_letter(self, error: str) -> None:
        """Move the message to the dead-letter store of its topic and ack it."""


@dataclass(frozen=True)
class Subscription:
    """A consumer reading one topic: Redis consumer group / Pub/Sub subscription."""

    topic: str
    consumer: str


class Transport(Protocol):
    """A broker: Redis Streams (`redis`) or Google Pub/Sub (`pubsub`)."""

    name: str

    async def setup(self, topics: Sequence[str], subscriptions: Sequence[Subscription]) -> None:
        """Create (or, where creation is not allowed, verify) topics and subscriptions."""

    async def publish(self, topic: str, attributes: dict[str, str], body: bytes) -> str:
        """Publish one message and return its broker id once the broker acknowledged it."""

    def subscribe(self, subscription: Subscription, stop: asyncio.Event) -> AsyncIterator[Message]:
        """Messages of a subscription until `stop` is set (checked at least every few seconds)."""

    async def probe(self) -> dict[str, Any]:
        """Readiness probe; raises when the broker is unreachable."""

    async def close(self) -> None:
        """Release connections and background threads."""
