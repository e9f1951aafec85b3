"""Audit log queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.pagination import PageParams, after_cursor_desc, build_page
from packfinderz.models.audit import AuditLog


@dataclass(frozen=True)
class AuditFilters:
    """Filters of GET /api/admin/v1/audit; `action_prefix` comes from `action=<domain>.*`."""

    actor_user_id: uuid.UUID | None = None
    actor_store_id: uuid.UUID | None = None
    actor_role: str | None = None
    action: str | None = None
    action_prefix: str | None = None
    target_type: str | None = None
    target_id: uuid.UUID | None = None
    request_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


async def list_entries(
    session: AsyncSession, filters: AuditFilters, page: PageParams
) -> tuple[list[AuditLog], str | None]:
    """Rows matching every given filter, `created_at DESC, id DESC`, one page."""
    query = select(AuditLog)
    for column, value in (
        (AuditLog.actor_user_id, filters.actor_user_id),
        (AuditLog.actor_store_id, filters.actor_store_id),
        (AuditLog.actor_role, filters.actor_role),
        (AuditLog.action, filters.action),
        (AuditLog.target_type, filters.target_type),
        (AuditLog.target_id, filters.target_id),
        (AuditLog.request_id, filters.request_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.action_prefix is not None:
        # The prefix is `[a-z_]+.` (validated), so it holds no LIKE wildcard but `_`: escape it.
        escaped = filters.action_prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        query = query.where(AuditLog.action.like(escaped + "%", escape="\\"))
    if filters.created_from is not None:
        query = query.where(AuditLog.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(AuditLog.created_at < filters.created_to)
    after = after_cursor_desc(AuditLog.created_at, AuditLog.id, page.cursor)
    if after is not None:
        query = query.where(after)
    query = query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(page.limit + 1)
    rows = (await session.scalars(query)).all()
    return build_page(rows, page.limit)
