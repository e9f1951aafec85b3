"""The append-only money ledger (commerce.md §2 ledger_events): a trigger rejects UPDATE and DELETE."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, uuid_pk

LEDGER_EVENT_TYPES = ("cash_collected", "vendor_payout", "adjustment", "refund")


class LedgerEvent(Base):
    """One money movement of an order, with both parties and the user who caused it."""

    __tablename__ = "ledger_events"

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="RESTRICT"), nullable=False
    )
    buyer_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    vendor_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    actor_user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # `metadata` is reserved on declarative classes, hence the attribute name.
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = created_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", LEDGER_EVENT_TYPES), name="type"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        Index(
            "uq_ledger_events_order_id_type",
            "order_id",
            "type",
            unique=True,
            postgresql_where=text("type IN ('cash_collected', 'vendor_payout')"),
        ),
        Index("ix_ledger_events_created_at_id", "created_at", "id"),
        Index("ix_ledger_events_vendor_store_id_created_at", "vendor_store_id", "created_at"),
        Index("ix_ledger_events_buyer_store_id_created_at", "buyer_store_id", "created_at"),
    )
