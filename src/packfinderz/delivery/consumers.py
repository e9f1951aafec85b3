"""Consumer `dispatch` (commerce.md §9.3, platform.md §11.3): give each ready order to an available agent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.delivery.service import auto_assign
from packfinderz.events.consumer import Consumer, Event, HandlerDeps, PermanentError, register_consumer
from packfinderz.events.registry import OrderReadyForDispatch


async def handle(session: AsyncSession, event: Event, deps: HandlerDeps) -> None:
    """Assign the order to a random agent with a fresh `available` heartbeat, or leave it queued.

    Re-running it is harmless: a taken or no longer dispatchable order is left alone. Redis errors
    propagate, so the framework retries the message.
    """
    if not isinstance(event.data, OrderReadyForDispatch):
        raise PermanentError(f"unexpected payload {type(event.data).__name__}")
    await auto_assign(session, deps.redis, event.data.order_id)


CONSUMER = register_consumer(
    Consumer(
        name="dispatch",
        topics=("orders",),
        event_types=frozenset({"order_ready_for_dispatch"}),
        handler=handle,
    )
)
