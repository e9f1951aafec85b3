"""Consumer `media-deletion` (platform.md §11.5): delete the object of every `media_deleted` event.

Importing this module (the worker loads every consumer module) also registers the `media-storage`
subscription consumer of storage_subscriber.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.events.consumer import Consumer, Event, HandlerDeps, PermanentError, register_consumer
from packfinderz.events.registry import MediaDeleted
from packfinderz.kit.storage.base import Storage
from packfinderz.media import storage_subscriber


async def delete_object(storage: Storage, event: Event) -> None:
    """Delete the event's object; a missing object counts as deleted, storage errors are retried."""
    if not isinstance(event.data, MediaDeleted):
        raise PermanentError(f"unexpected payload {type(event.data).__name__}")
    await storage.delete(event.data.storage_key)


async def _handle(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
    del session  # nothing to write: the rows are gone already
    await delete_object(deps.storage, event)


register_consumer(Consumer("media-deletion", ("media",), frozenset({"media_deleted"}), _handle))

__all__ = ["delete_object", "storage_subscriber"]
