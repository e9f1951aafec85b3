"""Vendor orders, their line items and payment intents, created by checkout (commerce.md §2, §7.4, §8)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

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
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk
from packfinderz.models.cart import PAYMENT_METHODS

OrderStatus = Literal[
    "created_pending",
    "accepted",
    "partially_accepted",
    "rejected",
    "ready_for_dispatch",
    "fulfilled",
    "hold_for_pickup",
    "hold",
    "in_transit",
    "delivered",
    "closed",
    "canceled",
    "expired",
]
VENDOR_ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
LINE_ITEM_STATUSES = ("pending", "fulfilled", "rejected")
FulfillmentStatus = Literal["pending", "partial", "fulfilled"]
ShippingStatus = Literal["pending", "in_transit", "delivered"]
FULFILLMENT_STATUSES: tuple[str, ...] = get_args(FulfillmentStatus)
SHIPPING_STATUSES: tuple[str, ...] = get_args(ShippingStatus)
PAYMENT_STATUSES = ("unpaid", "pending", "settled", "paid", "failed", "rejected")
REFUND_STATUSES = ("none", "partial", "full")

# Created by the checkout migration; order numbers are readable, increasing and never reused.
ORDER_NUMBER_DEFAULT = "nextval('vendor_order_number_seq')"


def _cents(default: int | None = None) -> Mapped[int]:
    return mapped_column(
        BigInteger, nullable=False, server_default=text(str(default)) if default is not None else None
    )


def _moment() -> Mapped[datetime | None]:
    return mapped_column(DateTime(timezone=True))


class VendorOrder(Base):
    """One vendor's part of a checkout; totals follow commerce.md §8.3."""

    __tablename__ = "vendor_orders"

    id: Mapped[uuid.UUID] = uuid_pk()
    cart_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cart_records.id", ondelete="RESTRICT"), nullable=False
    )
    checkout_group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    buyer_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    vendor_store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    order_number: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text(ORDER_NUMBER_DEFAULT)
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'created_pending'"))
    refund_status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'none'"))
    fulfillment_status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    shipping_status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'USD'"))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    payment_method: Mapped[str] = mapped_column(Text, nullable=False)
    shipping_line: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    promo: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ad_token: Mapped[str | None] = mapped_column(Text)
    subtotal_cents: Mapped[int] = _cents()
    discounts_cents: Mapped[int] = _cents()
    tax_cents: Mapped[int] = _cents(0)
    transport_fee_cents: Mapped[int] = _cents(0)
    total_cents: Mapped[int] = _cents()
    balance_due_cents: Mapped[int] = _cents()
    retry_of_order_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="RESTRICT")
    )
    manifest_media_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.id", ondelete="RESTRICT")
    )
    manifest_generated_at: Mapped[datetime | None] = _moment()
    last_nudged_at: Mapped[datetime | None] = _moment()
    ready_at: Mapped[datetime | None] = _moment()
    fulfilled_at: Mapped[datetime | None] = _moment()
    delivered_at: Mapped[datetime | None] = _moment()
    canceled_at: Mapped[datetime | None] = _moment()
    expired_at: Mapped[datetime | None] = _moment()
    closed_at: Mapped[datetime | None] = _moment()
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("order_number"),
        UniqueConstraint("checkout_group_id", "vendor_store_id"),
        UniqueConstraint("retry_of_order_id"),
        CheckConstraint("buyer_store_id <> vendor_store_id", name="parties"),
        CheckConstraint(enum_check("status", VENDOR_ORDER_STATUSES), name="status"),
        CheckConstraint(enum_check("refund_status", REFUND_STATUSES), name="refund_status"),
        CheckConstraint(enum_check("fulfillment_status", FULFILLMENT_STATUSES), name="fulfillment_status"),
        CheckConstraint(enum_check("shipping_status", SHIPPING_STATUSES), name="shipping_status"),
        CheckConstraint(enum_check("payment_method", PAYMENT_METHODS), name="payment_method"),
        CheckConstraint("currency = 'USD'", name="currency"),
        CheckConstraint(
            "subtotal_cents >= 0 AND discounts_cents >= 0 AND discounts_cents <= subtotal_cents "
            "AND tax_cents >= 0 AND transport_fee_cents >= 0 "
            "AND total_cents = subtotal_cents - discounts_cents + tax_cents + transport_fee_cents "
            "AND balance_due_cents >= 0 AND balance_due_cents <= total_cents",
            name="totals",
        ),
        Index(
            "ix_vendor_orders_buyer_created_at", "buyer_store_id", text("created_at DESC"), text("id DESC")
        ),
        Index(
            "ix_vendor_orders_vendor_status_created_at",
            "vendor_store_id",
            "status",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_vendor_orders_vendor_created_at", "vendor_store_id", text("created_at DESC"), text("id DESC")
        ),
        Index(
            "ix_vendor_orders_buyer_vendor_created_at",
            "buyer_store_id",
            "vendor_store_id",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index("ix_vendor_orders_status_created_at", "status", "created_at"),
        Index("ix_vendor_orders_cart_id", "cart_id"),
        # The admin payout queue (orders migration).
        Index(
            "ix_vendor_orders_delivered_at_id",
            "delivered_at",
            "id",
            postgresql_where=text("status = 'delivered'"),
        ),
        Index(
            "ix_vendor_orders_manifest_media_id",
            "manifest_media_id",
            postgresql_where=text("manifest_media_id IS NOT NULL"),
        ),
    )


class OrderLineItem(Base):
    """A snapshot of one bought line; `notes` holds the rejection reason or the vendor's note."""

    __tablename__ = "order_line_items"

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="CASCADE"), nullable=False
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="SET NULL")
    )
    cart_item_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("cart_items.id", ondelete="SET NULL")
    )
    # Order of the line inside its order (the cart's line order).
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    sku: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    strain: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    thumbnail: Mapped[str | None] = mapped_column(Text)
    moq: Mapped[int] = mapped_column(Integer, nullable=False)
    max_qty: Mapped[int | None] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = _cents()
    qty: Mapped[int] = mapped_column(Integer, nullable=False)
    discount_cents: Mapped[int] = _cents()
    line_subtotal_cents: Mapped[int] = _cents()
    total_cents: Mapped[int] = _cents()
    warnings: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    applied_volume_discount: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ad_token: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("status", LINE_ITEM_STATUSES), name="status"),
        CheckConstraint("qty > 0 AND moq >= 1 AND position >= 0", name="quantities"),
        CheckConstraint(
            "unit_price_cents >= 0 AND discount_cents >= 0 AND discount_cents <= line_subtotal_cents "
            "AND total_cents = line_subtotal_cents - discount_cents",
            name="amounts",
        ),
        CheckConstraint("char_length(notes) <= 500", name="notes_length"),
        Index("ix_order_line_items_order_id_position", "order_id", "position"),
        Index(
            "ix_order_line_items_product_id", "product_id", postgresql_where=text("product_id IS NOT NULL")
        ),
        Index(
            "ix_order_line_items_cart_item_id",
            "cart_item_id",
            postgresql_where=text("cart_item_id IS NOT NULL"),
        ),
    )


class PaymentIntent(Base):
    """What the buyer owes for one non-rejected order, and how far its collection has come."""

    __tablename__ = "payment_intents"

    id: Mapped[uuid.UUID] = uuid_pk()
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="CASCADE"), nullable=False
    )
    method: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'unpaid'"))
    amount_cents: Mapped[int] = _cents()
    cash_collected_at: Mapped[datetime | None] = _moment()
    vendor_paid_at: Mapped[datetime | None] = _moment()
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("order_id"),
        CheckConstraint(enum_check("method", PAYMENT_METHODS), name="method"),
        CheckConstraint(enum_check("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
    )
