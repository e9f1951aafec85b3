"""The `media-storage` consumer: GCS notifications on the Pub/Sub emulator, pulled by the worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from packfinderz.config import Settings
from packfinderz.events.consumer import ConsumersRole
from packfinderz.kit.db import Database, create_database
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.kit.transport.pubsub import publisher_client, streaming_pull, subscriber_client
from packfinderz.kit.worker_context import WorkerContext
from packfinderz.media.storage_subscriber import StorageEventsSubscriber, subscription_path
from tests.fixtures.compliance import PDF, presign, uploaded
from tests.fixtures.db import events, scalar
from tests.fixtures.events import eventually
from tests.fixtures.factories import Account
from tests.fixtures.pubsub import PubSubEmulator

BUCKET = "pf-private"
TOPIC = "gcs-notifications"


@dataclass
class Bucket:
    """The notification topic of our buckets (with the worker's subscription) and the worker's setup."""

    settings: Settings
    publisher: Any
    db: Database
    redis: Redis

    async def notify(self, event_type: str, key: str, payload_format: str = "JSON_API_V1") -> None:
        """Publish what GCS publishes for an object event (JSON_API_V1: the object resource as JSON)."""
        body = {"name": key, "bucket": BUCKET, "size": str(len(PDF)), "contentType": "application/pdf"}
        future = self.publisher.publish(
            self.publisher.topic_path(self.settings.gcp_project_id, TOPIC),
            json.dumps(body).encode(),
            eventType=event_type,
            bucketId=BUCKET,
            objectId=key,
            payloadFormat=payload_format,
        )
        await asyncio.wrap_future(future)

    @contextlib.asynccontextmanager
    async def worker(self) -> AsyncIterator[ConsumersRole]:
        """The worker's `consumers` role running until the block ends."""
        ctx = WorkerContext(
            settings=self.settings, db=self.db, redis=self.redis, instance="test", stop=asyncio.Event()
        )
        role = ConsumersRole(ctx)
        task = asyncio.create_task(role.run(ctx))
        try:
            yield role
        finally:
            ctx.stop.set()
            await asyncio.wait_for(task, 30)


@pytest.fixture
async def bucket(
    settings: Settings, pubsub_emulator: PubSubEmulator, db: Database, redis: Redis
) -> AsyncIterator[Bucket]:
    """gcs storage with its notification subscription (created as ops would); events stay on redis."""
    gcs = settings.model_copy(
        update={
            "events_transport": "redis",
            "storage_adapter": "gcs",
            "gcp_project_id": f"pf-test-{uuid.uuid4().hex[:10]}",
            "pubsub_emulator_host": pubsub_emulator.host,
            "gcs_bucket_name": BUCKET,
            "gcs_public_bucket_name": "pf-public",
            "gcs_notification_subscription": "gcs-media",
            # Never called: confirming a well-formed upload and cleaning up a row do not touch the bucket.
            "storage_emulator_host": "http://127.0.0.1:9",
        }
    )
    publisher = publisher_client(gcs)
    subscriber = subscriber_client(gcs)
    topic = publisher.topic_path(gcs.gcp_project_id, TOPIC)

    def create() -> None:
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription_path(gcs), topic=topic)
        subscriber.close()

    await asyncio.to_thread(create)
    yield Bucket(gcs, publisher, db, redis)
    await asyncio.to_thread(publisher.stop)


async def status(db: Database, media_id: uuid.UUID) -> str | None:
    found: str | None = await scalar(db, "SELECT status FROM media WHERE id = :id", id=media_id)
    return found


async def test_worker_confirms_and_cleans_up_from_gcs_notifications(
    client: httpx.AsyncClient, vendor: Account, db: Database, bucket: Bucket
) -> None:
    pending = await presign(client, vendor)
    loose = await uploaded(client, vendor)
    async with bucket.worker() as role:
        assert [subscriber.name for subscriber in role.subscribers] == ["media-storage"]
        # Not JSON_API_V1: acked and ignored, the row stays pending until its real notification.
        await bucket.notify("OBJECT_FINALIZE", pending.storage_key, payload_format="NONE")
        await bucket.notify("OBJECT_FINALIZE", pending.storage_key)

        async def confirmed() -> bool:
            return await status(db, pending.media_id) == "uploaded"

        await eventually(confirmed, what="the pending media to be confirmed")
        assert await scalar(db, "SELECT size_bytes FROM media WHERE id = :id", id=pending.media_id) == len(
            PDF
        )

        await bucket.notify("OBJECT_DELETE", loose.storage_key)

        async def removed() -> bool:
            count: int = await scalar(db, "SELECT count(*) FROM media WHERE id = :id", id=loose.media_id)
            return count == 0

        await eventually(removed, what="the deleted object's media row to be removed")
        assert [e["media_id"] for e in await events(db, "media_deleted")] == [str(loose.media_id)]
        assert role.heartbeat_fields()["events_handled"]["media-storage"] == 2


async def test_transient_database_error_nacks_for_redelivery(
    client: httpx.AsyncClient, vendor: Account, db: Database, bucket: Bucket, storage: LocalStorage
) -> None:
    pending = await presign(client, vendor)
    await bucket.notify("OBJECT_FINALIZE", pending.storage_key)
    down = create_database(bucket.settings, url="postgresql+asyncpg://pf:pf@127.0.0.1:9/pf")
    failing = StorageEventsSubscriber(bucket.settings, down, storage)
    healthy = StorageEventsSubscriber(bucket.settings, db, storage)
    stop = asyncio.Event()
    try:
        async with contextlib.aclosing(streaming_pull(failing.subscriber, failing.path, 1, stop)) as pulled:
            message = await anext(pulled)
            assert await failing.process(message) == "retry"
            assert await status(db, pending.media_id) == "pending"
            # Nacked: the broker delivers it again at once, and a healthy database applies it.
            again = await asyncio.wait_for(anext(pulled), 20)
            assert again.message_id == message.message_id
            assert await healthy.process(again) == "confirmed"
            stop.set()
    finally:
        await down.dispose()
        for subscriber in (failing, healthy):
            await asyncio.to_thread(subscriber.subscriber.close)
    assert await status(db, pending.media_id) == "uploaded"
