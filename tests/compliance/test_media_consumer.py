"""The media-deletion consumer removes the object a `media_deleted` event names (platform.md §11.5)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from packfinderz.events.consumer import Event, PermanentError, load_consumers
from packfinderz.events.registry import LicenseExpired, MediaDeleted
from packfinderz.kit.storage.local import LocalStorage
from packfinderz.media.consumers import delete_object


def event(data: MediaDeleted | LicenseExpired) -> Event:
    return Event(uuid.uuid4(), data.event_type, None, None, None, data)


async def test_deletes_the_object_and_a_missing_one_is_fine(storage: LocalStorage) -> None:
    store, media = uuid.uuid4(), uuid.uuid4()
    key = f"{store}/license_doc/{media}.pdf"
    await storage.put(key, b"%PDF", "application/pdf")
    deleted = event(MediaDeleted(media_id=media, store_id=store, storage_key=key))
    await delete_object(storage, deleted)
    assert await storage.head(key) is None
    await delete_object(storage, deleted)  # redelivered: already gone, still a success


async def test_other_payloads_are_dropped(storage: LocalStorage) -> None:
    other = LicenseExpired(
        license_id=uuid.uuid4(),
        store_id=uuid.uuid4(),
        expiration_date=date(2030, 1, 1),
        expired_at=datetime.now(UTC),
    )
    with pytest.raises(PermanentError):
        await delete_object(storage, event(other))


def test_registered_on_the_media_topic() -> None:
    consumer = load_consumers()["media-deletion"]
    assert consumer.topics == ("media",)
    assert consumer.event_types == frozenset({"media_deleted"})
