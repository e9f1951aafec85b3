"""Store inboxes and the shared admin inbox (identity.md §5, §12)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, uuid_pk

NOTIFICATION_TYPES = ("system_announcement", "market_update", "security_alert", "order_alert", "compliance")


class Notification(Base):
    """A notice in one store's inbox."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", NOTIFICATION_TYPES), name="type"),
        Index("ix_notifications_store_created", "store_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_notifications_store_unread",
            "store_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_notifications_created_at", "created_at"),
    )


class AdminNotification(Base):
    """A notice in the one inbox every admin shares (no store)."""

    __tablename__ = "admin_notifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    type: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    link: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", NOTIFICATION_TYPES), name="type"),
        Index("ix_admin_notifications_created", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_admin_notifications_unread",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("read_at IS NULL"),
        ),
    )
