"""compliance: media, media_attachments, licenses; stores' logo/banner media foreign keys"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "20261125040000"
down_revision = "20261125030000"
branch_labels = None
depends_on = None

MEDIA_KINDS = ("product", "ads", "pdf", "license_doc", "coa", "manifest", "user", "store", "other")
MEDIA_STATUSES = ("pending", "uploaded", "failed")
ATTACHMENT_TYPES = (
    "license",
    "ad",
    "order_manifest",
    "product_gallery",
    "product_coa",
    "store_logo",
    "store_banner",
)
LICENSE_STATUSES = ("pending", "verified", "rejected", "expired")
LICENSE_TYPES = ("producer", "grower", "dispensary", "merchant")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "store_id", UUID(as_uuid=True), _fk("media", "store_id", "stores", "RESTRICT"), nullable=False
        ),
        sa.Column(
            "user_id", UUID(as_uuid=True), _fk("media", "user_id", "users", "RESTRICT"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("mime_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("public_url", sa.Text, nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("storage_key", name="uq_media_storage_key"),
        sa.CheckConstraint(_in("kind", MEDIA_KINDS), name="ck_media_kind"),
        sa.CheckConstraint(_in("status", MEDIA_STATUSES), name="ck_media_status"),
        sa.CheckConstraint("size_bytes > 0", name="ck_media_size_bytes_positive"),
        sa.CheckConstraint("btrim(file_name) <> ''", name="ck_media_file_name_not_blank"),
    )
    op.create_index("ix_media_store_id_created_at", "media", ["store_id", "created_at", "id"])
    op.create_index("ix_media_user_id", "media", ["user_id"])
    op.create_index(
        "ix_media_pending_created_at", "media", ["created_at"], postgresql_where=sa.text("status = 'pending'")
    )

    op.create_table(
        "media_attachments",
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "media_id",
            UUID(as_uuid=True),
            _fk("media_attachments", "media_id", "media", "RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "store_id",
            UUID(as_uuid=True),
            _fk("media_attachments", "store_id", "stores", "RESTRICT"),
            nullable=False,
        ),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        # identity.md §5: UQ(entity_type, entity_id, media_id); it doubles as the primary key.
        sa.PrimaryKeyConstraint("entity_type", "entity_id", "media_id", name="pk_media_attachments"),
        sa.CheckConstraint(_in("entity_type", ATTACHMENT_TYPES), name="ck_media_attachments_entity_type"),
    )
    op.create_index("ix_media_attachments_media_id", "media_attachments", ["media_id"])
    op.create_index("ix_media_attachments_store_id", "media_attachments", ["store_id"])

    op.create_table(
        "licenses",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "store_id", UUID(as_uuid=True), _fk("licenses", "store_id", "stores", "CASCADE"), nullable=False
        ),
        sa.Column(
            "user_id", UUID(as_uuid=True), _fk("licenses", "user_id", "users", "RESTRICT"), nullable=False
        ),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column(
            "decided_by_user_id",
            UUID(as_uuid=True),
            _fk("licenses", "decided_by_user_id", "users", "SET NULL"),
            nullable=True,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "media_id", UUID(as_uuid=True), _fk("licenses", "media_id", "media", "RESTRICT"), nullable=False
        ),
        sa.Column("issuing_state", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("issue_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiration_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_warned_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("media_id", name="uq_licenses_media_id"),
        sa.UniqueConstraint("issuing_state", "number", name="uq_licenses_issuing_state_number"),
        sa.CheckConstraint(_in("status", LICENSE_STATUSES), name="ck_licenses_status"),
        sa.CheckConstraint(_in("type", LICENSE_TYPES), name="ck_licenses_type"),
        sa.CheckConstraint("issuing_state ~ '^[A-Z]{2}$'", name="ck_licenses_issuing_state_code"),
        sa.CheckConstraint(
            "number = upper(btrim(number)) AND number <> ''", name="ck_licenses_number_normalized"
        ),
        sa.CheckConstraint(
            "issue_date IS NULL OR expiration_date IS NULL OR expiration_date > issue_date",
            name="ck_licenses_dates_ordered",
        ),
        sa.CheckConstraint(
            "char_length(status_reason) BETWEEN 1 AND 500", name="ck_licenses_status_reason_length"
        ),
    )
    op.create_index("ix_licenses_store_id_created_at", "licenses", ["store_id", "created_at", "id"])
    op.create_index("ix_licenses_status_created_at", "licenses", ["status", "created_at", "id"])
    op.create_index("ix_licenses_created_at_id", "licenses", ["created_at", "id"])
    op.create_index(
        "ix_licenses_status_expiration_date",
        "licenses",
        ["status", "expiration_date"],
        postgresql_where=sa.text("expiration_date IS NOT NULL"),
    )
    op.create_index("ix_licenses_user_id", "licenses", ["user_id"])
    op.create_index("ix_licenses_decided_by_user_id", "licenses", ["decided_by_user_id"])

    for column in ("logo_media_id", "banner_media_id"):
        op.create_foreign_key(
            f"fk_stores_{column}_media", "stores", "media", [column], ["id"], ondelete="RESTRICT"
        )
        op.create_index(
            f"ix_stores_{column}", "stores", [column], postgresql_where=sa.text(f"{column} IS NOT NULL")
        )


def downgrade() -> None:
    for column in ("logo_media_id", "banner_media_id"):
        op.drop_index(f"ix_stores_{column}", table_name="stores")
        op.drop_constraint(f"fk_stores_{column}_media", "stores", type_="foreignkey")
    op.drop_table("licenses")
    op.drop_table("media_attachments")
    op.drop_table("media")
