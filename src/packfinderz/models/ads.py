"""Ad tables: ads, their creatives and the nightly per-day rollups (money-ads-analytics.md §2.1)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

AdStatus = Literal["draft", "active", "paused", "expired", "archived"]
Placement = Literal["hero", "store", "product"]
TargetType = Literal["store", "product"]
PausedReason = Literal["billing_failed"]
AD_STATUSES: tuple[str, ...] = get_args(AdStatus)
PLACEMENTS: tuple[str, ...] = get_args(Placement)
TARGET_TYPES: tuple[str, ...] = get_args(TargetType)
PAUSED_REASONS: tuple[str, ...] = get_args(PausedReason)
HEADLINE_MAX = 90
BODY_MAX = 250
# The type table of §2.2: banner = hero (store or product), promote_store, promote_product.
PLACEMENT_TARGETS = (
    "placement = 'hero' OR (placement = 'store' AND target_type = 'store') "
    "OR (placement = 'product' AND target_type = 'product')"
)


class Ad(Base):
    """A vendor's paid placement: CPM bid (cents per 1 000 impressions) and a daily budget in cents."""

    __tablename__ = "ads"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'draft'"))
    placement: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str] = mapped_column(Text, nullable=False)
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    bid_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    daily_budget_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("status", AD_STATUSES), name="status"),
        CheckConstraint(enum_check("placement", PLACEMENTS), name="placement"),
        CheckConstraint(enum_check("target_type", TARGET_TYPES), name="target_type"),
        CheckConstraint(PLACEMENT_TARGETS, name="placement_target"),
        CheckConstraint("bid_cents >= 0", name="bid_cents"),
        CheckConstraint("daily_budget_cents >= 0", name="daily_budget_cents"),
        CheckConstraint("ends_at >= starts_at", name="window"),
        CheckConstraint(
            f"paused_reason IS NULL OR {enum_check('paused_reason', PAUSED_REASONS)}", name="paused_reason"
        ),
        Index(
            "ix_ads_status_placement_starts_at_ends_at_store_id",
            "status",
            "placement",
            "starts_at",
            "ends_at",
            "store_id",
        ),
        Index("ix_ads_target_type_target_id", "target_type", "target_id"),
        Index("ix_ads_store_id_created_at_id", "store_id", "created_at", "id"),
    )


class AdCreative(Base):
    """What a served ad shows and where a click goes; media attached as protected entity `ad`."""

    __tablename__ = "ad_creatives"

    id: Mapped[uuid.UUID] = uuid_pk()
    ad_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ads.id", ondelete="CASCADE"), nullable=False
    )
    media_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.id", ondelete="SET NULL")
    )
    destination_url: Mapped[str] = mapped_column(Text, nullable=False)
    headline: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint("destination_url ~ '^https?://'", name="destination_url"),
        CheckConstraint(f"char_length(headline) <= {HEADLINE_MAX}", name="headline_length"),
        CheckConstraint(f"char_length(body) <= {BODY_MAX}", name="body_length"),
        Index("ix_ad_creatives_ad_id_created_at_id", "ad_id", "created_at", "id"),
        Index("ix_ad_creatives_media_id", "media_id"),
    )


class AdDailyRollup(Base):
    """One ad's closed UTC day: counters from Redis, raw spend and the billed (budget-capped) cents."""

    __tablename__ = "ad_daily_rollups"

    ad_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ads.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    vendor_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    impressions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    clicks: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    spend_millicents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    spend_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint("impressions >= 0", name="impressions"),
        CheckConstraint("clicks >= 0", name="clicks"),
        CheckConstraint("spend_millicents >= 0", name="spend_millicents"),
        CheckConstraint("spend_cents >= 0", name="spend_cents"),
        Index("ix_ad_daily_rollups_vendor_store_id_day", "vendor_store_id", "day"),
    )
