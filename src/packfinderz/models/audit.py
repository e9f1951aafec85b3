"""The append-only audit log (identity.md §16)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, uuid_pk

# `user`: a signed-in user acting without a store (an invitee answering an invitation, issue #17).
ACTOR_ROLES = ("owner", "manager", "staff", "ops", "agent", "admin", "system", "anonymous", "user")


class AuditLog(Base):
    """One security- or money-relevant action; a trigger rejects UPDATE and DELETE.

    No foreign keys on purpose: rows outlive the users, stores and orders they mention.
    """

    __tablename__ = "audit_logs"

    id: Mapped[uuid.UUID] = uuid_pk()
    created_at: Mapped[datetime] = created_at()
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_store_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str] = mapped_column(Text, nullable=False)
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(enum_check("actor_role", ACTOR_ROLES), name="actor_role"),
        CheckConstraint("action ~ '^[a-z_]+(\\.[a-z_]+)+$'", name="action_format"),
        Index("ix_audit_logs_created_at_id", "created_at", "id"),
        Index("ix_audit_logs_actor_user_id_created_at", "actor_user_id", "created_at"),
        Index("ix_audit_logs_actor_store_id_created_at", "actor_store_id", "created_at"),
        Index("ix_audit_logs_target_created_at", "target_type", "target_id", "created_at"),
        Index("ix_audit_logs_action_created_at", "action", "created_at"),
        Index("ix_audit_logs_request_id_created_at", "request_id", "created_at"),
    )
