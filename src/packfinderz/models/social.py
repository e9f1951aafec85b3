"""Wishlists, store reviews and the vendor CRM's hidden customers (identity.md §5, §13, §14, §18)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

REVIEW_TYPES = ("store", "product")
REVIEW_TITLE_MAX = 150
REVIEW_BODY_MAX = 5000


def _store_fk(ondelete: str = "CASCADE") -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("stores.id", ondelete=ondelete), nullable=False)


class WishlistItem(Base):
    """A product a store keeps on its wishlist."""

    __tablename__ = "wishlist_items"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = _store_fk()
    product_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = created_at()

    __table_args__ = (
        UniqueConstraint("store_id", "product_id"),
        Index("ix_wishlist_items_store_created", "store_id", text("created_at DESC"), text("id DESC")),
        Index("ix_wishlist_items_product_id", "product_id"),
    )


class Review(Base):
    """A buyer store's review of a vendor store (product reviews are planned)."""

    __tablename__ = "reviews"

    id: Mapped[uuid.UUID] = uuid_pk()
    review_type: Mapped[str] = mapped_column(Text, nullable=False)
    buyer_store_id: Mapped[uuid.UUID] = _store_fk()
    vendor_store_id: Mapped[uuid.UUID] = _store_fk()
    buyer_user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="CASCADE")
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("vendor_orders.id", ondelete="SET NULL")
    )
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    is_verified_purchase: Mapped[bool] = mapped_column(Boolean, nullable=False)
    is_visible: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("review_type", REVIEW_TYPES), name="review_type"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint(f"title IS NULL OR char_length(title) <= {REVIEW_TITLE_MAX}", name="title"),
        CheckConstraint(f"body IS NULL OR char_length(body) <= {REVIEW_BODY_MAX}", name="body"),
        Index(
            "uq_reviews_store_review",
            "buyer_store_id",
            "vendor_store_id",
            unique=True,
            postgresql_where=text("review_type = 'store'"),
        ),
        Index(
            "ix_reviews_vendor_visible",
            "vendor_store_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("is_visible"),
        ),
        Index("ix_reviews_buyer_user_id", "buyer_user_id"),
        Index("ix_reviews_order_id", "order_id"),
    )


class VendorCustomerHide(Base):
    """A buyer a vendor hid from its customer list; orders placed after `hidden_at` show it again."""

    __tablename__ = "vendor_customer_hides"

    id: Mapped[uuid.UUID] = uuid_pk()
    vendor_store_id: Mapped[uuid.UUID] = _store_fk()
    buyer_store_id: Mapped[uuid.UUID] = _store_fk()
    hidden_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    hidden_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("vendor_store_id", "buyer_store_id"),
        Index("ix_vendor_customer_hides_buyer_store_id", "buyer_store_id"),
    )
