"""HTTP: the store inbox (/api/v1/notifications) and the admin inbox (/api/admin/v1/notifications)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from packfinderz.auth.deps import AdminUser, StoreContext
from packfinderz.kit.db import DbSession
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.kit.pagination import PageEnvelope, PageParams, page_params
from packfinderz.notifications import service
from packfinderz.notifications.schemas import (
    AdminNotificationDTO,
    NotificationDTO,
    ReadAllResult,
    UnreadCount,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
admin_router = APIRouter(prefix="/api/admin/v1/notifications", tags=["admin: notifications"])

Page = Annotated[PageParams, Depends(page_params)]
UnreadOnly = Annotated[bool, Query(description="Only notices not read yet.")]


@router.get(
    "",
    response_model=PageEnvelope[NotificationDTO],
    responses=error_responses(400, 401, 403),
    summary="The active store's notifications",
)
async def list_store_notifications(
    ctx: StoreContext, session: DbSession, page: Page, unread_only: UnreadOnly = False
) -> dict[str, Any]:
    """Any member; newest first."""
    items, cursor = await service.list_notices(session, ctx.store_id, unread_only=unread_only, page=page)
    return {"data": {"items": items, "next_cursor": cursor}}


@router.get(
    "/unread-count",
    response_model=DataResponse[UnreadCount],
    responses=error_responses(401, 403),
    summary="How many of the active store's notifications are unread",
)
async def store_unread_count(ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Any member of the active store."""
    return {"data": {"count": await service.unread_count(session, ctx.store_id)}}


@router.post(
    "/read-all",
    response_model=DataResponse[ReadAllResult],
    responses=error_responses(401, 403),
    summary="Mark every notification of the active store read",
)
async def store_read_all(ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """Any member of the active store; `updated` is how many were unread. Notices already read keep their
    `read_at`."""
    return {"data": {"updated": await service.mark_all_read(session, ctx.store_id)}}


@router.post(
    "/{notification_id}/read",
    response_model=DataResponse[NotificationDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="Mark one notification read",
)
async def store_read_one(notification_id: uuid.UUID, ctx: StoreContext, session: DbSession) -> dict[str, Any]:
    """`read_at` is set once; reading it again keeps the first time. Another store's notice is 404."""
    return {"data": await service.mark_read(session, ctx.store_id, notification_id)}


@admin_router.get(
    "",
    response_model=PageEnvelope[AdminNotificationDTO],
    responses=error_responses(400, 401, 403),
    summary="The admin inbox (shared by every admin)",
)
async def list_admin_notifications(
    admin: AdminUser, session: DbSession, page: Page, unread_only: UnreadOnly = False
) -> dict[str, Any]:
    """Admins; newest first."""
    items, cursor = await service.list_notices(session, None, unread_only=unread_only, page=page)
    return {"data": {"items": items, "next_cursor": cursor}}


@admin_router.get(
    "/unread-count",
    response_model=DataResponse[UnreadCount],
    responses=error_responses(401, 403),
    summary="How many admin notifications are unread",
)
async def admin_unread_count(admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Admins; the inbox is shared, so this is the same for every admin."""
    return {"data": {"count": await service.unread_count(session, None)}}


@admin_router.post(
    "/read-all",
    response_model=DataResponse[ReadAllResult],
    responses=error_responses(401, 403),
    summary="Mark every admin notification read (for every admin)",
)
async def admin_read_all(admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Admins; `updated` is how many were unread. The inbox is shared: they are read for every admin."""
    return {"data": {"updated": await service.mark_all_read(session, None)}}


@admin_router.post(
    "/{notification_id}/read",
    response_model=DataResponse[AdminNotificationDTO],
    responses=error_responses(400, 401, 403, 404),
    summary="Mark one admin notification read (for every admin)",
)
async def admin_read_one(notification_id: uuid.UUID, admin: AdminUser, session: DbSession) -> dict[str, Any]:
    """Admins; `read_at` is set once (reading again keeps the first time); a store's notice is 404."""
    return {"data": await service.mark_read(session, None, notification_id)}
