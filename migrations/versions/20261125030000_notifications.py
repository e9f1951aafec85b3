"""notifications: store inboxes and the shared admin inbox"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "20261125030000"
down_revision = "20261125020000"
branch_labels = None
depends_on = None

TYPES = "type IN ('system_announcement', 'market_update', 'security_alert', 'order_alert', 'compliance')"


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "store_id",
            UUID(as_uuid=True),
            sa.ForeignKey("stores.id", ondelete="CASCADE", name="fk_notifications_store_id_stores"),
            nullable=False,
        ),
        *_columns(),
        sa.CheckConstraint(TYPES, name="ck_notifications_type"),
    )
    op.create_index(
        "ix_notifications_store_created",
        "notifications",
        ["store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_notifications_store_unread",
        "notifications",
        ["store_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])

    op.create_table(
        "admin_notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        *_columns(),
        sa.CheckConstraint(TYPES, name="ck_admin_notifications_type"),
    )
    op.create_index(
        "ix_admin_notifications_created",
        "admin_notifications",
        [sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_admin_notifications_unread",
        "admin_notifications",
        [sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("read_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("admin_notifications")
    op.drop_table("notifications")
