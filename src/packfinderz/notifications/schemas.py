"""Response models of the store and admin inboxes (identity.md §12)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NotificationType = Literal[
    "system_announcement", "market_update", "security_alert", "order_alert", "compliance"
]

_ADMIN_EXAMPLE: dict[str, Any] = {
    "id": "3b9d2f4e-6a1c-4e8b-9f0d-7c5a3e1b2d4f",
    "type": "compliance",
    "title": "License awaiting review",
    "message": "Mile High Growers submitted CO license 403-00123 (grower).",
    "link": "/admin/licenses/9a3e0c55-1f7b-4c1e-8f0e-52d4a1b7c9e3",
    "read_at": None,
    "created_at": "2026-12-07T15:10:00Z",
}
_STORE_EXAMPLE: dict[str, Any] = {
    "id": "6e4c2a0b-8d6f-4b1a-9c3e-5f7d9b1a3c5e",
    "type": "order_alert",
    "title": "New order",
    "message": "Denver Green Dispensary placed order PF-1042 ($412.50).",
    "link": "/orders/1d3f5b7a-9c2e-4a6b-8d0f-2e4c6a8b0d2f",
    "read_at": "2026-12-07T15:12:30Z",
    "created_at": "2026-12-07T15:11:00Z",
    "store_id": "4f65fc91-bc1b-44be-8798-55ff85b0d1b5",
}


class AdminNotificationDTO(BaseModel):
    """A notice of the admin inbox shared by every admin."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_ADMIN_EXAMPLE]})

    id: uuid.UUID
    type: NotificationType
    title: str
    message: str
    link: str | None
    read_at: datetime | None
    created_at: datetime


class NotificationDTO(AdminNotificationDTO):
    """A notice of the active store's inbox."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_STORE_EXAMPLE]})

    store_id: uuid.UUID


class UnreadCount(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"count": 3}]})

    count: int = Field(ge=0)


class ReadAllResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"updated": 3}]})

    updated: int = Field(ge=0, description="How many notices were unread and are now read.")
