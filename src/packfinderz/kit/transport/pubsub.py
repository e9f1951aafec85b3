"""The `pubsub` transport: Google Cloud Pub/Sub through google-cloud-pubsub (platform.md §8.2).

The client library is thread based; calls are moved off the event loop with `asyncio.to_thread` and
streaming-pull callbacks are handed back to the loop through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import structlog

from packfinderz.config import Settings
from packfinderz.kit.transport.base import PUBLISH_TIMEOUT_SECONDS, Subscription, TransportError

log = structlog.get_logger("transport.pubsub")

ACK_DEADLINE_SECONDS = 60
RETRY_MIN_BACKOFF_SECONDS = 10.0
RETRY_MAX_BACKOFF_SECONDS = 600.0
# Pub/Sub accepts 5..100 delivery attempts in a dead-letter policy.
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 5, 100
DEAD_SUFFIX = "-dead"
# A subscription on each dead-letter topic keeps dead letters for inspection (a topic alone drops them).
DEAD_LETTER_SUBSCRIPTION = "dlq"
QUEUE_POLL_SECONDS = 1.0


class PubSubMessage:
    """A streaming-pull delivery; ack/nack are non-blocking calls of the client library."""

    def __init__(self, transport: PubSubTransport, subscription: Subscription, message: Any) -> None:
        self._transport = transport
        self._subscription = subscription
        self._message = message
        self.message_id = str(message.message_id)
        self.attributes = dict(message.attributes)
        self.body = bytes(message.data)
        # delivery_attempt is only filled when the subscription has a dead-letter policy (ours do).
        self.delivery_count = int(message.delivery_attempt or 1)

    async def ack(self) -> None:
        self._message.ack()

    async def nack(self) -> None:
        self._message.nack()

    async def dead_letter(self, error: str) -> None:
        attributes = {**self.attributes, "consumer": self._subscription.consumer, "error": error[:500]}
        await self._transport.publish_raw(
            self._transport.dead_topic_id(self._subscription.topic), attributes, self.body
        )
        self._message.ack()
        log.warning(
            "transport.dead_lettered",
            topic=self._subscription.topic,
            consumer=self._subscription.consumer,
            message_id=self.message_id,
            event_id=self.attributes.get("event_id"),
            error=error[:200],
        )


class PubSubTransport:
    """Topics `<prefix><topic>`, subscriptions `<topic id>--<consumer>`, dead letters `<topic id>-dead`."""

    name = "pubsub"

    def __init__(self, settings: Settings, *, topics: Sequence[str]) -> None:
        from google.api_core import exceptions as gexc

        if not settings.gcp_project_id:
            raise TransportError("PACKFINDERZ_GCP_PROJECT_ID is required with EVENTS_TRANSPORT=pubsub")
        self._gexc = gexc
        self.project = settings.gcp_project_id
        self.topics = tuple(topics)
        self.prefix = settings.pubsub_topic_prefix
        self.auto_create = bool(settings.pubsub_auto_create)
        self.concurrency = max(settings.consumer_concurrency, 1)
        self.max_attempts = min(
            max(settings.events_max_deliveries, MIN_DELIVERY_ATTEMPTS), MAX_DELIVERY_ATTEMPTS
        )
        # Redelivery starts after the configured idle time, capped at the spec's 10 s minimum backoff.
        self.min_backoff = min(RETRY_MIN_BACKOFF_SECONDS, settings.events_redelivery_idle)
        self.publisher, self.subscriber = publisher_client(settings), subscriber_client(settings)

    # --- names -----------------------------------------------------------------------------------

    def topic_id(self, topic: str) -> str:
        return f"{self.prefix}{topic}"

    def dead_topic_id(self, topic: str) -> str:
        return f"{self.topic_id(topic)}{DEAD_SUFFIX}"

    def subscription_id(self, subscription: Subscription) -> str:
        return f"{self.topic_id(subscription.topic)}--{subscription.consumer}"

    def _topic_path(self, topic_id: str) -> str:
        return str(self.publisher.topic_path(self.project, topic_id))

    def _subscription_path(self, subscription_id: str) -> str:
        return str(self.subscriber.subscription_path(self.project, subscription_id))

    # --- setup -----------------------------------------------------------------------------------

    async def setup(self, topics: Sequence[str], subscriptions: Sequence[Subscription]) -> None:
        """Create missing topics and subscriptions when PUBSUB_AUTO_CREATE, else require them."""
        try:
            await asyncio.to_thread(self._setup_sync, list(topics), list(subscriptions))
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"pubsub setup failed: {type(exc).__name__}: {exc}") from exc

    def _setup_sync(self, topics: list[str], subscriptions: list[Subscription]) -> None:
        wanted = sorted({*topics, *(s.topic for s in subscriptions)})
        for topic in wanted:
            self._ensure_topic(self.topic_id(topic))
            dead = self.dead_topic_id(topic)
            self._ensure_topic(dead)
            self._ensure_subscription(f"{dead}--{DEAD_LETTER_SUBSCRIPTION}", dead, dead_letters=False)
        for subscription in subscriptions:
            self._ensure_subscription(
                self.subscription_id(subscription), self.topic_id(subscription.topic), dead_letters=True
            )

    def _ensure_topic(self, topic_id: str) -> None:
        path = self._topic_path(topic_id)
        try:
            self.publisher.get_topic(topic=path)
            return
        except self._gexc.NotFound:
            if not self.auto_create:
                raise TransportError(
                    f"pubsub topic {topic_id} is missing (PUBSUB_AUTO_CREATE is off)"
                ) from None
        try:
            self.publisher.create_topic(name=path)
            log.info("transport.topic_created", topic=topic_id)
        except self._gexc.AlreadyExists:
            pass

    def _ensure_subscription(self, subscription_id: str, topic_id: str, *, dead_letters: bool) -> None:
        path = self._subscription_path(subscription_id)
        try:
            self.subscriber.get_subscription(subscription=path)
            return
        except self._gexc.NotFound:
            if not self.auto_create:
                raise TransportError(
                    f"pubsub subscription {subscription_id} is missing (PUBSUB_AUTO_CREATE is off)"
                ) from None
        request: dict[str, Any] = {
            "name": path,
            "topic": self._topic_path(topic_id),
            "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
        }
        if dead_letters:
            request["retry_policy"] = {
                "minimum_backoff": {"seconds": int(self.min_backoff), "nanos": _nanos(self.min_backoff)},
                "maximum_backoff": {"seconds": int(RETRY_MAX_BACKOFF_SECONDS)},
            }
            request["dead_letter_policy"] = {
                "dead_letter_topic": self._topic_path(f"{topic_id}{DEAD_SUFFIX}"),
                "max_delivery_attempts": self.max_attempts,
            }
        try:
            self.subscriber.create_subscription(request=request)
            log.info("transport.subscription_created", subscription=subscription_id)
        except self._gexc.AlreadyExists:
            pass

    # --- publish / subscribe ---------------------------------------------------------------------

    async def publish(self, topic: str, attributes: dict[str, str], body: bytes) -> str:
        """Publish with attributes and await the broker's ack (10 s)."""
        return await self.publish_raw(self.topic_id(topic), attributes, body)

    async def publish_raw(self, topic_id: str, attributes: dict[str, str], body: bytes) -> str:
        try:
            future = self.publisher.publish(
                self._topic_path(topic_id), body, timeout=PUBLISH_TIMEOUT_SECONDS, **attributes
            )
            message_id = await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise TransportError("pubsub publish timed out") from exc
        except Exception as exc:
            raise TransportError(f"pubsub publish failed: {type(exc).__name__}: {exc}") from exc
        return str(message_id)

    async def subscribe(
        self, subscription: Subscription, stop: asyncio.Event
    ) -> AsyncIterator[PubSubMessage]:
        """Streaming pull with flow control CONSUMER_CONCURRENCY."""
        path = self._subscription_path(self.subscription_id(subscription))
        async with contextlib.aclosing(
            streaming_pull(self.subscriber, path, self.concurrency, stop)
        ) as pulled:
            async for message in pulled:
                yield PubSubMessage(self, subscription, message)

    async def probe(self) -> dict[str, Any]:
        """Get each registered topic."""

        def get_all() -> None:
            for topic in self.topics:
                self.publisher.get_topic(topic=self._topic_path(self.topic_id(topic)))

        try:
            await asyncio.to_thread(get_all)
        except self._gexc.NotFound as exc:
            raise TransportError(f"pubsub topic missing: {exc.message}") from None
        return {"adapter": self.name}

    async def close(self) -> None:
        def stop() -> None:
            self.publisher.stop()
            self.subscriber.close()

        await asyncio.to_thread(stop)


def _nanos(seconds: float) -> int:
    return round((seconds - int(seconds)) * 1_000_000_000)


async def streaming_pull(
    subscriber: Any, subscription_path: str, max_messages: int, stop: asyncio.Event
) -> AsyncGenerator[Any, None]:
    """Library messages of a streaming pull (at most `max_messages` unsettled) until `stop`; they cross
    from the library's threads into the loop by queue. TransportError when the pull stops by itself."""
    from google.cloud import pubsub_v1

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    closing = threading.Event()

    def deliver(message: Any) -> None:
        if closing.is_set():
            message.nack()
            return
        loop.call_soon_threadsafe(queue.put_nowait, message)

    future = subscriber.subscribe(
        subscription_path, deliver, flow_control=pubsub_v1.types.FlowControl(max_messages=max_messages)
    )
    try:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(queue.get(), QUEUE_POLL_SECONDS)
            except TimeoutError:
                if future.done():
                    error = future.exception()
                    raise TransportError(
                        f"streaming pull stopped: {type(error).__name__}: {error}"
                    ) from error
                continue
            yield message
    finally:
        # Messages received but not handed out go back to the broker for redelivery at once; this must
        # happen before the pull closes, as the library drops the nacks of a closed stream.
        closing.set()
        while not queue.empty():
            queue.get_nowait().nack()
        # Closing the streaming pull joins the library's threads: keep it off the event loop.
        await asyncio.to_thread(future.cancel)


def publisher_client(settings: Settings) -> Any:
    """A publisher: an insecure channel to the emulator, else configured credentials or ADC."""
    from google.cloud import pubsub_v1

    if settings.pubsub_emulator_host:
        import grpc  # type: ignore[import-untyped]
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        channel = grpc.insecure_channel(settings.pubsub_emulator_host)
        return pubsub_v1.PublisherClient(transport=PublisherGrpcTransport(channel=channel))
    return pubsub_v1.PublisherClient(credentials=_credentials(settings))


def subscriber_client(settings: Settings) -> Any:
    """A subscriber: an insecure channel to the emulator, else configured credentials or ADC."""
    from google.cloud import pubsub_v1

    if settings.pubsub_emulator_host:
        import grpc
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        channel = grpc.insecure_channel(settings.pubsub_emulator_host)
        return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    return pubsub_v1.SubscriberClient(credentials=_credentials(settings))


def _credentials(settings: Settings) -> Any:
    """GCP_CREDENTIALS_JSON, else GOOGLE_APPLICATION_CREDENTIALS, else None (ADC)."""
    from google.oauth2 import service_account

    if settings.gcp_credentials_json is not None:
        info = json.loads(settings.gcp_credentials_json.get_secret_value())
        return service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
    if settings.google_application_credentials:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            settings.google_application_credentials
        )
    return None
