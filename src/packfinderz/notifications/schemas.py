"""Response models of the store and admin inboxes (identity.md §12)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

NotificationType = Literal[
    "system_announcement", "market_update", "security_alert", "order_alert", "compliance"
]


class AdminNotificationDTO(BaseModel):
    """A notice of the admin inbox shared by every admin."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: NotificationType
    title: str
    message: str
    link: str | None
    read_at: datetime | None
    created_at: datetime


class NotificationDTO(AdminNotificationDTO):
    """A notice of the active store's inbox."""

    store_id: uuid.UUID


class UnreadCount(BaseModel):
    count: int


class ReadAllResult(BaseModel):
    updated: int
