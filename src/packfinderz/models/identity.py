"""Users, stores (the tenant) and store memberships (identity.md §5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

STORE_TYPES = ("buyer", "vendor")
KYC_STATUSES = ("pending_verification", "verified", "rejected", "expired", "suspended")
MEMBER_ROLES = ("owner", "manager", "staff", "ops")
SYSTEM_ROLES = ("agent", "admin")
MEMBERSHIP_STATUSES = ("invited", "active")
STORE_BADGES = ("top_brand", "quality_verified")
# commerce.md §1 `category`: the values a store may list in `categories`.
Category = Literal[
    "flower",
    "cart",
    "pre_roll",
    "edible",
    "concentrate",
    "beverage",
    "vape",
    "topical",
    "tincture",
    "seed",
    "seedling",
    "accessory",
]
CATEGORIES: tuple[str, ...] = get_args(Category)
EMPTY_RATINGS = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
MAX_DELIVERY_RADIUS_METERS = 1_000_000


class User(Base):
    """A person who signs in: a store member, or a system user (agent, admin) without memberships."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    first_name: Mapped[str] = mapped_column(Text, nullable=False)
    last_name: Mapped[str] = mapped_column(Text, nullable=False)
    phone: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    system_role: Mapped[str | None] = mapped_column(Text)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("email"),
        CheckConstraint("email = lower(btrim(email)) AND email <> ''", name="email_normalized"),
        CheckConstraint(enum_check("system_role", SYSTEM_ROLES), name="system_role"),
        Index("ix_users_created_at_id", "created_at", "id"),
        Index("ix_users_email_pattern", text("email text_pattern_ops")),
        Index(
            "ix_users_system_role_created_at",
            "system_role",
            "created_at",
            postgresql_where=text("system_role IS NOT NULL"),
        ),
    )


class Store(Base):
    """A buyer or vendor business: the tenant every store-scoped row belongs to."""

    __tablename__ = "stores"

    id: Mapped[uuid.UUID] = uuid_pk()
    type: Mapped[str] = mapped_column(Text, nullable=False)
    company_name: Mapped[str] = mapped_column(Text, nullable=False)
    dba_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    kyc_status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'pending_verification'")
    )
    subscription_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    subscription_override: Mapped[bool | None] = mapped_column(Boolean)
    subscription_override_reason: Mapped[str | None] = mapped_column(Text)
    subscription_override_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    subscription_override_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    address_line1: Mapped[str] = mapped_column(Text, nullable=False)
    address_line2: Mapped[str | None] = mapped_column(Text)
    address_city: Mapped[str] = mapped_column(Text, nullable=False)
    address_state: Mapped[str] = mapped_column(Text, nullable=False)
    address_postal_code: Mapped[str] = mapped_column(Text, nullable=False)
    address_country: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'US'"))
    lat: Mapped[float] = mapped_column(Double, nullable=False)
    lng: Mapped[float] = mapped_column(Double, nullable=False)
    delivery_radius_meters: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    social: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # FKs to media are added by the media migration (the table arrives with issue #5).
    logo_media_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    banner_media_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    logo_url: Mapped[str | None] = mapped_column(Text)
    banner_url: Mapped[str | None] = mapped_column(Text)
    ratings: Mapped[dict[str, int]] = mapped_column(
        JSONB, nullable=False, server_default=text("""'{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}'::jsonb""")
    )
    categories: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    badge: Mapped[str | None] = mapped_column(Text)
    billing_customer_id: Mapped[str | None] = mapped_column(Text)
    owner_user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    last_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", STORE_TYPES), name="type"),
        CheckConstraint(enum_check("kyc_status", KYC_STATUSES), name="kyc_status"),
        CheckConstraint(enum_check("badge", STORE_BADGES), name="badge"),
        CheckConstraint("btrim(company_name) <> ''", name="company_name_not_blank"),
        CheckConstraint(
            "btrim(address_line1) <> '' AND btrim(address_city) <> '' AND btrim(address_postal_code) <> ''",
            name="address_not_blank",
        ),
        CheckConstraint("address_state ~ '^[A-Z]{2}$'", name="address_state_code"),
        CheckConstraint("address_country ~ '^[A-Z]{2}$'", name="address_country_code"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180", name="lat_lng_range"),
        CheckConstraint(
            f"delivery_radius_meters BETWEEN 0 AND {MAX_DELIVERY_RADIUS_METERS}", name="delivery_radius"
        ),
        CheckConstraint(
            "categories <@ ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]::text[]",
            name="categories",
        ),
        Index("ix_stores_created_at_id", "created_at", "id"),
        Index("ix_stores_owner_user_id", "owner_user_id"),
        Index("ix_stores_subscription_override_by_user_id", "subscription_override_by_user_id"),
        Index(
            "ix_stores_billing_customer_id",
            "billing_customer_id",
            postgresql_where=text("billing_customer_id IS NOT NULL"),
        ),
    )


class StoreMembership(Base):
    """A user's role in a store; only `active` memberships grant access."""

    __tablename__ = "store_memberships"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("store_id", "user_id"),
        CheckConstraint(enum_check("role", MEMBER_ROLES), name="role"),
        CheckConstraint(enum_check("status", MEMBERSHIP_STATUSES), name="status"),
        Index("ix_store_memberships_user_id_created_at", "user_id", "created_at", "id"),
        Index("ix_store_memberships_store_id_created_at", "store_id", "created_at", "id"),
        Index("ix_store_memberships_invited_by_user_id", "invited_by_user_id"),
    )
