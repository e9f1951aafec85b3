"""One contract, both transports: Redis Streams and Google Pub/Sub (on the real emulator)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from packfinderz.config import Settings
from packfinderz.events.registry import TOPICS
from packfinderz.kit.transport import Message, Subscription, Transport, TransportError, create_transport
from tests.fixtures.events import dead_letters, eventually, pubsub_settings
from tests.fixtures.pubsub import PubSubEmulator

Action = Callable[[Message], Awaitable[None]]


@dataclass
class Receiver:
    """Reads a subscription in the background and applies `action` to every delivery."""

    transport: Transport
    subscription: Subscription
    action: Action
    seen: list[Message] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        async for message in self.transport.subscribe(self.subscription, self.stop):
            self.seen.append(message)
            await self.action(message)

    def ids(self) -> list[str]:
        return [m.attributes["event_id"] for m in self.seen]


@contextlib.asynccontextmanager
async def receiving(
    transport: Transport, subscription: Subscription, action: Action
) -> AsyncIterator[Receiver]:
    receiver = Receiver(transport, subscription, action)
    receiver.task = asyncio.create_task(receiver._loop())
    try:
        yield receiver
    finally:
        receiver.stop.set()
        await asyncio.wait_for(receiver.task, 10)  # the subscription notices stop by itself


async def ack(message: Message) -> None:
    await message.ack()


def attributes(event_id: str) -> dict[str, str]:
    return {
        "event_id": event_id,
        "event_type": "media_deleted",
        "aggregate_type": "media",
        "aggregate_id": str(uuid.uuid4()),
        "created_at": "2026-11-25T10:00:00.000Z",
        "version": "1",
    }


async def publish(transport: Transport, topic: str = "media", count: int = 1) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for event_id in ids:
        body = json.dumps({"event_id": event_id, "data": {"n": 1}}).encode()
        message_id = await transport.publish(topic, attributes(event_id), body)
        assert message_id
    return ids


async def test_published_messages_arrive_with_attributes_and_body(transport: Transport) -> None:
    subscription = Subscription("media", "contract-a")
    await transport.setup(TOPICS, [subscription])
    ids = await publish(transport, count=3)
    async with receiving(transport, subscription, ack) as receiver:
        await eventually(lambda: _count(receiver, 3), what="3 deliveries")
    assert sorted(receiver.ids()) == sorted(ids)
    for message in receiver.seen:
        assert message.delivery_count == 1
        assert message.attributes["event_type"] == "media_deleted"
        assert set(message.attributes) >= {"aggregate_type", "aggregate_id", "created_at", "version"}
        assert json.loads(message.body)["event_id"] == message.attributes["event_id"]


async def test_acked_messages_are_not_delivered_again(transport: Transport) -> None:
    subscription = Subscription("media", "contract-b")
    await transport.setup(TOPICS, [subscription])
    ids = await publish(transport, count=2)
    async with receiving(transport, subscription, ack) as receiver:
        await eventually(lambda: _count(receiver, 2), what="2 deliveries")
        # well past the redelivery threshold (0.3 s) and the claim interval
        await asyncio.sleep(2.0)
    assert sorted(receiver.ids()) == sorted(ids)


async def test_every_consumer_gets_every_message(transport: Transport) -> None:
    first, second = Subscription("media", "contract-c1"), Subscription("media", "contract-c2")
    await transport.setup(TOPICS, [first, second])
    ids = await publish(transport, count=4)
    async with receiving(transport, first, ack) as one, receiving(transport, second, ack) as two:
        await eventually(lambda: _both(one, two, 4), what="4 deliveries each")
    assert sorted(one.ids()) == sorted(two.ids()) == sorted(ids)


async def test_subscribers_of_one_consumer_share_the_messages(transport: Transport) -> None:
    subscription = Subscription("media", "contract-shared")
    await transport.setup(TOPICS, [subscription])
    ids = await publish(transport, count=20)
    async with receiving(transport, subscription, ack) as one, receiving(transport, subscription, ack) as two:
        await eventually(lambda: _union(one, two, ids), what="all messages")
        await asyncio.sleep(1.0)
    assert sorted(one.ids() + two.ids()) == sorted(ids)


async def test_nack_redelivers_with_a_growing_delivery_count(transport: Transport) -> None:
    subscription = Subscription("media", "contract-nack")
    await transport.setup(TOPICS, [subscription])
    [event_id] = await publish(transport)

    async def nack_first(message: Message) -> None:
        if message.delivery_count == 1:
            await message.nack()
        else:
            await message.ack()

    async with receiving(transport, subscription, nack_first) as receiver:
        await eventually(lambda: _count(receiver, 2), what="a redelivery")
    assert receiver.ids()[:2] == [event_id, event_id]
    assert [m.delivery_count for m in receiver.seen[:2]] == [1, 2]


async def test_dead_letter_moves_the_message_out_of_the_subscription(transport: Transport) -> None:
    subscription = Subscription("media", "contract-dead")
    await transport.setup(TOPICS, [subscription])
    [event_id] = await publish(transport)

    async def kill(message: Message) -> None:
        await message.dead_letter("handler exploded")

    async with receiving(transport, subscription, kill) as receiver:
        await eventually(lambda: _count(receiver, 1), what="a delivery")
        letters: list[dict[str, str]] = []

        async def arrived() -> bool:
            letters.extend(await dead_letters(transport, "media"))
            return any(letter["event_id"] == event_id for letter in letters)

        await eventually(arrived, what="the dead letter")
        await asyncio.sleep(1.5)
    assert receiver.ids() == [event_id]
    letter = next(letter for letter in letters if letter["event_id"] == event_id)
    assert letter["consumer"] == "contract-dead"
    assert letter["error"] == "handler exploded"
    assert json.loads(letter["body"])["event_id"] == event_id


async def test_a_message_never_acked_is_dead_lettered_after_the_delivery_limit(
    transport: Transport, transport_settings: Settings
) -> None:
    subscription = Subscription("media", "contract-poison")
    await transport.setup(TOPICS, [subscription])
    [event_id] = await publish(transport)

    async def never(message: Message) -> None:
        await message.nack()

    letters: list[dict[str, str]] = []

    async def arrived() -> bool:
        letters.extend(await dead_letters(transport, "media"))
        return any(letter["event_id"] == event_id for letter in letters)

    async with receiving(transport, subscription, never) as receiver:
        await eventually(arrived, timeout=60, what="the broker to dead-letter the message")
    # redis: max deliveries (3); pubsub: the broker's policy (5 is the least Pub/Sub accepts)
    limit = 3 if transport_settings.events_transport == "redis" else 5
    assert receiver.ids().count(event_id) == limit


async def test_setup_is_idempotent_and_probe_answers(transport: Transport) -> None:
    subscription = Subscription("orders", "contract-setup")
    await transport.setup(TOPICS, [subscription])
    await transport.setup(TOPICS, [subscription])
    assert (await transport.probe())["adapter"] == transport.name


# --- transport-specific failure modes ------------------------------------------------------------


async def test_redis_publish_to_an_unreachable_server_raises(fast_settings: Settings) -> None:
    broken = create_transport(fast_settings, topics=TOPICS)
    from packfinderz.kit.transport.redis_streams import RedisStreamsTransport

    assert isinstance(broken, RedisStreamsTransport)
    await broken.close()
    unreachable = RedisStreamsTransport(fast_settings, instance="t", url="redis://127.0.0.1:1/0")
    with pytest.raises(TransportError):
        await unreachable.publish("orders", attributes(str(uuid.uuid4())), b"{}")
    with pytest.raises(Exception):  # noqa: B017, PT011 - any connection error fails the probe
        await unreachable.probe()
    await unreachable.close()


async def test_pubsub_without_auto_create_requires_existing_topics(
    fast_settings: Settings, pubsub_emulator: PubSubEmulator
) -> None:
    strict = create_transport(
        pubsub_settings(fast_settings, pubsub_emulator, pubsub_auto_create=False), topics=TOPICS
    )
    try:
        with pytest.raises(TransportError, match="missing"):
            await strict.setup(TOPICS, [Subscription("orders", "notifications")])
        with pytest.raises(TransportError, match="missing"):
            await strict.probe()
        with pytest.raises(TransportError):
            await strict.publish("orders", attributes(str(uuid.uuid4())), b"{}")
    finally:
        await strict.close()


async def test_pubsub_subscription_carries_the_dead_letter_policy(
    fast_settings: Settings, pubsub_emulator: PubSubEmulator
) -> None:
    from packfinderz.kit.transport.pubsub import PubSubTransport

    settings = pubsub_settings(fast_settings, pubsub_emulator, events_max_deliveries=10)
    pubsub = create_transport(settings, topics=TOPICS)
    assert isinstance(pubsub, PubSubTransport)
    try:
        await pubsub.setup(TOPICS, [Subscription("orders", "notifications")])
        path = pubsub.subscriber.subscription_path(settings.gcp_project_id, "pf-orders--notifications")
        found = await asyncio.to_thread(pubsub.subscriber.get_subscription, subscription=path)
        assert found.topic.endswith("/topics/pf-orders")
        assert found.ack_deadline_seconds == 60
        assert found.dead_letter_policy.dead_letter_topic.endswith("/topics/pf-orders-dead")
        assert found.dead_letter_policy.max_delivery_attempts == 10
        assert found.retry_policy.maximum_backoff.seconds == 600
    finally:
        await pubsub.close()


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.seen) >= n


async def _both(one: Receiver, two: Receiver, n: int) -> bool:
    return len(one.seen) >= n and len(two.seen) >= n


async def _union(one: Receiver, two: Receiver, ids: list[str]) -> bool:
    return set(one.ids()) | set(two.ids()) == set(ids)


async def test_redis_stop_ends_a_blocked_read_without_cancelling_it(fast_settings: Settings) -> None:
    patient = fast_settings.model_copy(update={"events_redelivery_idle": 60.0})  # reads block 5 s
    transport = create_transport(patient, topics=TOPICS)
    subscription = Subscription("media", "contract-stop")
    try:
        await transport.setup(TOPICS, [subscription])
        async with receiving(transport, subscription, ack) as receiver:
            await asyncio.sleep(0.3)  # now blocked in XREADGROUP
            receiver.stop.set()
            assert receiver.task is not None
            await asyncio.wait_for(asyncio.shield(receiver.task), 2.5)  # well before the 5 s block ends
    finally:
        await transport.close()


@pytest.mark.parametrize(
    ("env", "emulator", "expected"),
    [("dev", None, True), ("test", None, False), ("prod", None, False), ("test", "127.0.0.1:8085", True)],
)
def test_pubsub_auto_create_defaults_to_dev_or_the_emulator(
    env: str, emulator: str | None, expected: bool
) -> None:
    values: dict[str, object] = {"app_env": env, "pubsub_emulator_host": emulator}
    assert Settings(**values).pubsub_auto_create is expected  # type: ignore[arg-type]
    assert Settings(**values, pubsub_auto_create="false").pubsub_auto_create is False  # type: ignore[arg-type]
