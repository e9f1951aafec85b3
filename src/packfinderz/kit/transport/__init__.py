"""Event transports behind one contract: `redis` (Streams, default) and `pubsub` (Google Pub/Sub)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from packfinderz.config import Settings
from packfinderz.kit.transport.base import Message, Subscription, Transport, TransportError

__all__ = ["Message", "Subscription", "Transport", "TransportError", "create_transport", "probe_transport"]


def create_transport(settings: Settings, *, topics: Sequence[str]) -> Transport:
    """The transport selected by EVENTS_TRANSPORT; cloud libraries are imported only for `pubsub`."""
    if settings.events_transport == "pubsub":
        from packfinderz.kit.transport.pubsub import PubSubTransport

        return PubSubTransport(settings, topics=topics)
    if settings.events_transport == "redis":
        from packfinderz.kit.transport.redis_streams import RedisStreamsTransport

        return RedisStreamsTransport(settings, instance=settings.instance)
    raise TransportError(f"event transport {settings.events_transport!r} is not available")


async def probe_transport(transport: Transport) -> float:
    """Run the transport's readiness probe; its latency in ms (startup.resource_ok)."""
    started = time.perf_counter()
    await transport.probe()
    return round((time.perf_counter() - started) * 1000, 2)
