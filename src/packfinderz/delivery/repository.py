"""Delivery SQL: agents and their assignments."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import Cursor, after_cursor_desc
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import User


async def insert_assignment(
    session: AsyncSession,
    order_id: uuid.UUID,
    agent_user_id: uuid.UUID,
    source: str,
    assigned_by_user_id: uuid.UUID | None,
) -> OrderAssignment | None:
    """A new active assignment; None when the order already has one (the partial unique index decides)."""
    statement = (
        insert(OrderAssignment)
        .values(
            order_id=order_id,
            agent_user_id=agent_user_id,
            source=source,
            assigned_by_user_id=assigned_by_user_id,
        )
        .on_conflict_do_nothing(index_elements=["order_id"], index_where=text("active"))
        .returning(OrderAssignment)
    )
    found: OrderAssignment | None = await session.scalar(statement)
    return found


async def active_agent(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user if it is an active agent."""
    found: User | None = await session.scalar(
        select(User).where(User.id == user_id, User.system_role == "agent", User.is_active)
    )
    return found


async def active_agent_ids(session: AsyncSession) -> list[uuid.UUID]:
    """Every active agent, in id order (the dispatch candidates before their heartbeats are read)."""
    rows = await session.scalars(
        select(User.id).where(User.system_role == "agent", User.is_active).order_by(User.id)
    )
    return list(rows)


async def agents_batch(
    session: AsyncSession, is_active: bool | None, after: Cursor | None, limit: int
) -> list[User]:
    """Agents newest first, strictly after the cursor."""
    query = select(User).where(User.system_role == "agent")
    if is_active is not None:
        query = query.where(User.is_active == is_active)
    condition = after_cursor_desc(User.created_at, User.id, after)
    if condition is not None:
        query = query.where(condition)
    rows = await session.scalars(query.order_by(User.created_at.desc(), User.id.desc()).limit(limit))
    return list(rows)


async def active_assignment_counts(
    session: AsyncSession, agent_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many orders each agent actively holds."""
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(OrderAssignment.agent_user_id, func.count())
        .where(OrderAssignment.agent_user_id.in_(list(agent_ids)), OrderAssignment.active)
        .group_by(OrderAssignment.agent_user_id)
    )
    return {agent: int(count) for agent, count in rows}
