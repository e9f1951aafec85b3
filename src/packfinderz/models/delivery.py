"""Delivery agent assignments of vendor orders (commerce.md §2 order_assignments, §9)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

ASSIGNMENT_SOURCES = ("auto", "claim", "admin")
AGENT_STATUSES = ("available", "busy", "offline")


class OrderAssignment(Base):
    """An agent's assignment to an order; at most one active per order (the partial unique index)."""

    __tablename__ = "order_assignments"

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="CASCADE"), nullable=False
    )
    agent_user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    source: Mapped[str] = mapped_column(Text, nullable=False)
    assigned_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT")
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    assigned_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    unassigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pickup_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cash_pickup_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("source", ASSIGNMENT_SOURCES), name="source"),
        CheckConstraint("active = (unassigned_at IS NULL)", name="unassigned_when_inactive"),
        CheckConstraint("(source = 'auto') = (assigned_by_user_id IS NULL)", name="assigned_by"),
        Index("uq_order_assignments_active_order", "order_id", unique=True, postgresql_where=text("active")),
        Index("ix_order_assignments_order_id", "order_id"),
        Index("ix_order_assignments_agent_user_id_active", "agent_user_id", "active"),
    )
