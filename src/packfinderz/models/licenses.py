"""State licenses: the documents a store's verification (KYC) is derived from (identity.md §5, §10)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

LICENSE_STATUSES = ("pending", "verified", "rejected", "expired")
LICENSE_TYPES = ("producer", "grower", "dispensary", "merchant")


class License(Base):
    """A store's state license; `(issuing_state, number)` is unique among verified licenses only."""

    __tablename__ = "licenses"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.id", ondelete="RESTRICT"), nullable=False
    )
    issuing_state: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    number: Mapped[str] = mapped_column(Text, nullable=False)
    issue_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expiration_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expiry_warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("media_id"),
        # Unique among verified licenses only (issue #17): a pending submission cannot squat a number.
        Index(
            "uq_licenses_verified_issuing_state_number",
            "issuing_state",
            "number",
            unique=True,
            postgresql_where=text("status = 'verified'"),
        ),
        Index("ix_licenses_issuing_state_number", "issuing_state", "number"),
        CheckConstraint(enum_check("status", LICENSE_STATUSES), name="status"),
        CheckConstraint(enum_check("type", LICENSE_TYPES), name="type"),
        CheckConstraint("issuing_state ~ '^[A-Z]{2}$'", name="issuing_state_code"),
        CheckConstraint("number = upper(btrim(number)) AND number <> ''", name="number_normalized"),
        CheckConstraint(
            "issue_date IS NULL OR expiration_date IS NULL OR expiration_date > issue_date",
            name="dates_ordered",
        ),
        CheckConstraint("char_length(status_reason) BETWEEN 1 AND 500", name="status_reason_length"),
        Index("ix_licenses_store_id_created_at", "store_id", "created_at", "id"),
        Index("ix_licenses_status_created_at", "status", "created_at", "id"),
        Index("ix_licenses_created_at_id", "created_at", "id"),
        Index(
            "ix_licenses_status_expiration_date",
            "status",
            "expiration_date",
            postgresql_where=text("expiration_date IS NOT NULL"),
        ),
        Index("ix_licenses_user_id", "user_id"),
        Index("ix_licenses_decided_by_user_id", "decided_by_user_id"),
    )
