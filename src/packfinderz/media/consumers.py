"""Consumer `media-deletion` (platform.md §11.5): delete the object of every `media_deleted` event."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.config import load_settings
from packfinderz.events.consumer import Consumer, Event, PermanentError, register_consumer
from packfinderz.events.registry import MediaDeleted
from packfinderz.kit.storage import create_storage
from packfinderz.kit.storage.base import Storage

_worker_storage: list[Storage] = []


def worker_storage() -> Storage:
    """The worker's storage adapter, built once from the process's configuration.

    Handlers receive only (session, event), and the worker reads the same environment as this call.
    """
    if not _worker_storage:
        _worker_storage.append(create_storage(load_settings()))
    return _worker_storage[0]


async def delete_object(storage: Storage, event: Event) -> None:
    """Delete the event's object; a missing object counts as deleted, storage errors are retried."""
    if not isinstance(event.data, MediaDeleted):
        raise PermanentError(f"unexpected payload {type(event.data).__name__}")
    await storage.delete(event.data.storage_key)


async def _handle(session: AsyncSession, event: Event) -> None:
    del session  # nothing to write: the rows are gone already
    await delete_object(worker_storage(), event)


register_consumer(Consumer("media-deletion", ("media",), frozenset({"media_deleted"}), _handle))
