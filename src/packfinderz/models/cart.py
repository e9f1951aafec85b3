"""The buyer's cart: the authoritative quote snapshot, its items and vendor groups (commerce.md §2, §6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
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

CART_STATUSES = ("active", "converted")
CART_ITEM_STATUSES = ("ok", "not_available", "invalid")
CART_ITEM_WARNING_TYPES = (
    "clamped_to_moq",
    "clamped_to_max",
    "price_changed",
    "not_available",
    "vendor_invalid",
    "vendor_mismatch",
    "vendor_unavailable",
)
VENDOR_GROUP_STATUSES = ("ok", "invalid")
VENDOR_GROUP_WARNING_TYPES = (
    "vendor_invalid",
    "vendor_suspended",
    "license_invalid",
    "out_of_delivery_radius",
    "vendor_unavailable",
    "invalid_promo",
)
PAYMENT_METHODS = ("cash", "ach")


def _cents() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False)


class CartRecord(Base):
    """A buyer's quote: one `active` cart per buyer; checkout converts it (then it never changes)."""

    __tablename__ = "cart_records"

    id: Mapped[uuid.UUID] = uuid_pk()
    buyer_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'active'"))
    checkout_group_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    payment_method: Mapped[str | None] = mapped_column(Text)
    shipping_line: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    tip_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'USD'"))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    subtotal_cents: Mapped[int] = _cents()
    discounts_cents: Mapped[int] = _cents()
    total_cents: Mapped[int] = _cents()
    ad_tokens: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("status", CART_STATUSES), name="status"),
        CheckConstraint(enum_check("payment_method", PAYMENT_METHODS), name="payment_method"),
        CheckConstraint("currency = 'USD'", name="currency"),
        CheckConstraint("tip_cents >= 0", name="tip_cents"),
        CheckConstraint(
            "subtotal_cents >= 0 AND discounts_cents >= 0 AND discounts_cents <= subtotal_cents "
            "AND total_cents = subtotal_cents - discounts_cents",
            name="totals",
        ),
        CheckConstraint(
            "status = 'active' OR (converted_at IS NOT NULL AND checkout_group_id IS NOT NULL)",
            name="converted_fields",
        ),
        Index(
            "uq_cart_records_active_buyer",
            "buyer_store_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_cart_records_buyer_store_id_created_at", "buyer_store_id", "created_at"),
        Index(
            "uq_cart_records_checkout_group_id",
            "checkout_group_id",
            unique=True,
            postgresql_where=text("checkout_group_id IS NOT NULL"),
        ),
    )


class CartItem(Base):
    """One priced line of a quote (the set is replaced by each quote)."""

    __tablename__ = "cart_items"

    id: Mapped[uuid.UUID] = uuid_pk()
    cart_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cart_records.id", ondelete="CASCADE"), nullable=False
    )
    # Request order of the line, so a quote reads back exactly as it was sent.
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    product_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="RESTRICT"), nullable=False
    )
    vendor_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    vendor_store_name: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    thumbnail: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    moq: Mapped[int] = mapped_column(Integer, nullable=False)
    max_qty: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_cents: Mapped[int] = _cents()
    effective_unit_price_cents: Mapped[int] = _cents()
    line_subtotal_cents: Mapped[int] = _cents()
    line_discounts_cents: Mapped[int] = _cents()
    line_total_cents: Mapped[int] = _cents()
    applied_volume_discount: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("status", CART_ITEM_STATUSES), name="status"),
        CheckConstraint("quantity > 0 AND moq >= 1 AND position >= 0", name="quantities"),
        CheckConstraint(
            "unit_price_cents >= 0 AND effective_unit_price_cents >= 0 AND line_discounts_cents >= 0 "
            "AND line_discounts_cents <= line_subtotal_cents "
            "AND line_total_cents = line_subtotal_cents - line_discounts_cents",
            name="amounts",
        ),
        Index("ix_cart_items_cart_id_position", "cart_id", "position"),
        Index("ix_cart_items_product_id", "product_id"),
        Index("ix_cart_items_vendor_store_id", "vendor_store_id"),
    )


class CartVendorGroup(Base):
    """The per-vendor part of a quote: status, warnings, promo and totals of its `ok` items."""

    __tablename__ = "cart_vendor_groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    cart_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cart_records.id", ondelete="CASCADE"), nullable=False
    )
    vendor_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    subtotal_cents: Mapped[int] = _cents()
    line_discounts_cents: Mapped[int] = _cents()
    promo: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    promo_discount_cents: Mapped[int] = _cents()
    discounts_cents: Mapped[int] = _cents()
    total_cents: Mapped[int] = _cents()
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("cart_id", "vendor_store_id"),
        CheckConstraint(enum_check("status", VENDOR_GROUP_STATUSES), name="status"),
        CheckConstraint(
            "subtotal_cents >= 0 AND line_discounts_cents >= 0 AND promo_discount_cents >= 0 "
            "AND discounts_cents <= subtotal_cents AND total_cents = subtotal_cents - discounts_cents",
            name="totals",
        ),
        Index("ix_cart_vendor_groups_vendor_store_id", "vendor_store_id"),
    )
