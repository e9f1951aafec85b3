"""Inbox rules: list, count unread, mark one or all read (identity.md §12).

A store reads only its own inbox (the store id comes from the verified store context); the admin
inbox is one inbox shared by every admin, so marking a notice read marks it for all of them.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.kit.errors import NotFound
from packfinderz.kit.pagination import PageParams, build_page
from packfinderz.models.notifications import AdminNotification, Notification
from packfinderz.notifications import repository
from packfinderz.notifications.schemas import AdminNotificationDTO, NotificationDTO

Dto = NotificationDTO | AdminNotificationDTO


def _inbox(store_id: uuid.UUID | None) -> tuple[repository.Inbox, type[Dto]]:
    return (
        (Notification, NotificationDTO) if store_id is not None else (AdminNotification, AdminNotificationDTO)
    )


async def list_notices(
    session: AsyncSession, store_id: uuid.UUID | None, *, unread_only: bool, page: PageParams
) -> tuple[list[Dto], str | None]:
    """Newest first (created_at DESC, id DESC); the store's inbox, or the admin inbox for None."""
    model, dto = _inbox(store_id)
    rows = await repository.list_page(
        session, model, store_id=store_id, unread_only=unread_only, limit=page.limit, cursor=page.cursor
    )
    items, cursor = build_page(rows, page.limit)
    return [dto.model_validate(row) for row in items], cursor


async def unread_count(session: AsyncSession, store_id: uuid.UUID | None) -> int:
    model, _ = _inbox(store_id)
    return await repository.unread_count(session, model, store_id=store_id)


async def mark_read(session: AsyncSession, store_id: uuid.UUID | None, notification_id: uuid.UUID) -> Dto:
    """Set read_at once; 404 for an unknown id or another store's notice."""
    model, dto = _inbox(store_id)
    row = await repository.mark_read(session, model, notification_id, store_id=store_id)
    if row is None:
        raise NotFound("notification not found")
    return dto.model_validate(row)


async def mark_all_read(session: AsyncSession, store_id: uuid.UUID | None) -> int:
    """Mark every unread notice read; how many changed."""
    model, _ = _inbox(store_id)
    return await repository.mark_all_read(session, model, store_id=store_id)
