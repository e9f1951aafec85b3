"""Uploaded files and what they are attached to (identity.md §5 media, media_attachments)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.kit.storage.base import MEDIA_KINDS
from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

MEDIA_STATUSES = ("pending", "uploaded", "failed")
READABLE_STATUSES = ("uploaded",)
ATTACHMENT_TYPES = (
    "license",
    "ad",
    "order_manifest",
    "product_gallery",
    "product_coa",
    "store_logo",
    "store_banner",
)
# Attachments that block deleting their media (identity.md §5).
PROTECTED_ATTACHMENT_TYPES = frozenset({"license", "ad", "order_manifest"})


class Media(Base):
    """One file of a store: made `pending` at presign, `uploaded` once the object is confirmed."""

    __tablename__ = "media"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    storage_key: Mapped[str] = mapped_column(Text, nullable=False)
    file_name: Mapped[str] = mapped_column(Text, nullable=False)
    mime_type: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    public_url: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        UniqueConstraint("storage_key"),
        CheckConstraint(enum_check("kind", MEDIA_KINDS), name="kind"),
        CheckConstraint(enum_check("status", MEDIA_STATUSES), name="status"),
        CheckConstraint("size_bytes > 0", name="size_bytes_positive"),
        CheckConstraint("btrim(file_name) <> ''", name="file_name_not_blank"),
        Index("ix_media_store_id_created_at", "store_id", "created_at", "id"),
        Index("ix_media_user_id", "user_id"),
        Index("ix_media_pending_created_at", "created_at", postgresql_where=text("status = 'pending'")),
    )

    @property
    def readable(self) -> bool:
        return self.status in READABLE_STATUSES


class MediaAttachment(Base):
    """A media file used by an entity (license, ad, product gallery, store logo…); never updated."""

    __tablename__ = "media_attachments"

    entity_type: Mapped[str] = mapped_column(Text, primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    media_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("media.id", ondelete="RESTRICT"), primary_key=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    storage_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at()

    __table_args__ = (
        CheckConstraint(enum_check("entity_type", ATTACHMENT_TYPES), name="entity_type"),
        Index("ix_media_attachments_media_id", "media_id"),
        Index("ix_media_attachments_store_id", "store_id"),
    )
