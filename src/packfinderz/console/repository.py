"""Read-only queries the console shows and no API lists: order timelines, names by id, lookups."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.models.identity import Store, User


async def store_names(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Company names of stores by id."""
    if not ids:
        return {}
    found = await session.execute(select(Store.id, Store.company_name).where(Store.id.in_(list(ids))))
    return {row.id: row.company_name for row in found}


async def active_agents(session: AsyncSession) -> list[User]:
    """Active agents by name (the assign form's choices)."""
    found = await session.scalars(
        select(User)
        .where(User.system_role == "agent", User.is_active.is_(True))
        .order_by(User.first_name, User.last_name, User.id)
        .limit(500)
    )
    return list(found)


async def user_emails(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Emails of users by id (audit actors, deciders)."""
    if not ids:
        return {}
    found = await session.execute(select(User.id, User.email).where(User.id.in_(list(ids))))
    return {row.id: row.email for row in found}


async def user_id_by_email(session: AsyncSession, email: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(select(User.id).where(User.email == email.strip().lower()))
    return found


async def order_id_by_number(session: AsyncSession, number: int) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        text("SELECT id FROM vendor_orders WHERE order_number = :n"), {"n": number}
    )
    return found


async def order_events(session: AsyncSession, order_id: uuid.UUID) -> list[Any]:
    """The order's outbox events, oldest first, with their delivery state."""
    found = await session.execute(
        text(
            "SELECT id, event_type, created_at, published_at, failed_at, attempt_count, last_error, "
            "payload -> 'actor' AS actor FROM outbox_events WHERE aggregate_id = :id "
            "ORDER BY created_at, id"
        ),
        {"id": order_id},
    )
    return list(found)


async def order_assignments(session: AsyncSession, order_id: uuid.UUID) -> list[Any]:
    """Every assignment of the order (ended ones too), oldest first, with the agent's email."""
    found = await session.execute(
        text(
            "SELECT a.id, a.source, a.active, a.assigned_at, a.unassigned_at, a.pickup_time, "
            "a.delivery_time, a.cash_pickup_time, u.email AS agent_email, a.agent_user_id "
            "FROM order_assignments a JOIN users u ON u.id = a.agent_user_id "
            "WHERE a.order_id = :id ORDER BY a.assigned_at, a.id"
        ),
        {"id": order_id},
    )
    return list(found)


async def order_ledger(session: AsyncSession, order_id: uuid.UUID) -> list[Any]:
    """The order's ledger rows, oldest first."""
    found = await session.execute(
        text(
            "SELECT id, type, amount_cents, created_at, actor_user_id FROM ledger_events "
            "WHERE order_id = :id ORDER BY created_at, id"
        ),
        {"id": order_id},
    )
    return list(found)
