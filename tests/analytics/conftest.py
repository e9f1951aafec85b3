"""Analytics test helpers: run the analytics handler on outbox events (optionally moved in time), read
the warehouse, and call the dashboards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from packfinderz.analytics.consumers import HANDLED_TYPES, handle
from packfinderz.config import Settings
from packfinderz.events.consumer import HandlerDeps, to_event
from packfinderz.kit.db import Database
from packfinderz.kit.storage import create_storage

# Timestamp fields of the handled payloads, moved together with the envelope's occurred_at.
MOMENTS = ("converted_at", "canceled_at", "expired_at", "cash_collected_at", "vendor_paid_at")


async def outbox(db: Database, types: Iterable[str] = HANDLED_TYPES) -> list[dict[str, Any]]:
    """Envelopes of the outbox events of the given types, oldest first."""
    async with db.transaction() as session:
        found = await session.execute(
            text("SELECT payload FROM outbox_events WHERE event_type = ANY(:t) ORDER BY created_at, id"),
            {"t": list(types)},
        )
        return [dict(r.payload) for r in found]


def moved(envelope: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """The envelope with its moments shifted by `delta` (the event id is kept)."""
    data = dict(envelope["data"])
    for key in MOMENTS:
        if data.get(key):
            data[key] = (datetime.fromisoformat(data[key].replace("Z", "+00:00")) + delta).isoformat()
    return {**envelope, "data": data}


def deps_of(settings: Settings, redis: Redis) -> HandlerDeps:
    return HandlerDeps(settings, redis, create_storage(settings))


async def deliver(
    db: Database,
    deps: HandlerDeps,
    envelopes: Iterable[dict[str, Any]],
    shift: Callable[[dict[str, Any]], timedelta] | None = None,
) -> None:
    """Run the analytics handler on each envelope, one transaction each (as the consumer runner does)."""
    for given in envelopes:
        envelope = moved(given, shift(given)) if shift is not None else given
        event = to_event(envelope["event_type"], envelope, {})
        async with db.transaction() as session:
            await handle(session, event, deps)


async def warehouse_rows(db: Database, table: str = "marketplace_events") -> list[dict[str, Any]]:
    async with db.transaction() as session:
        found = await session.execute(text(f"SELECT * FROM analytics.{table} ORDER BY event_id"))
        return [dict(r._mapping) for r in found]


async def report(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    path: str = "/api/v1/analytics/marketplace",
    **params: str,
) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def uid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
