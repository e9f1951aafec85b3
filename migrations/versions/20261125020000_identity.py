"""identity: users, stores, store_memberships and the append-only audit_logs"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "20261125020000"
down_revision = "20261125010000"
branch_labels = None
depends_on = None

CATEGORIES = (
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
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _uuid_pk() -> sa.Column[Any]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        _uuid_pk(),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("last_name", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("system_role", sa.Text, nullable=True),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint("email = lower(btrim(email)) AND email <> ''", name="ck_users_email_normalized"),
        sa.CheckConstraint(_in("system_role", ("agent", "admin")), name="ck_users_system_role"),
    )
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])
    op.create_index("ix_users_email_pattern", "users", [sa.text("email text_pattern_ops")])
    op.create_index(
        "ix_users_system_role_created_at",
        "users",
        ["system_role", "created_at"],
        postgresql_where=sa.text("system_role IS NOT NULL"),
    )

    op.create_table(
        "stores",
        _uuid_pk(),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("company_name", sa.Text, nullable=False),
        sa.Column("dba_name", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("phone", sa.Text, nullable=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("kyc_status", sa.Text, nullable=False, server_default=sa.text("'pending_verification'")),
        sa.Column("subscription_active", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("subscription_override", sa.Boolean, nullable=True),
        sa.Column("subscription_override_reason", sa.Text, nullable=True),
        sa.Column(
            "subscription_override_by_user_id",
            UUID(as_uuid=True),
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name="fk_stores_subscription_override_by_user_id_users"
            ),
            nullable=True,
        ),
        sa.Column("subscription_override_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address_line1", sa.Text, nullable=False),
        sa.Column("address_line2", sa.Text, nullable=True),
        sa.Column("address_city", sa.Text, nullable=False),
        sa.Column("address_state", sa.Text, nullable=False),
        sa.Column("address_postal_code", sa.Text, nullable=False),
        sa.Column("address_country", sa.Text, nullable=False, server_default=sa.text("'US'")),
        sa.Column("lat", sa.Double, nullable=False),
        sa.Column("lng", sa.Double, nullable=False),
        sa.Column("delivery_radius_meters", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("social", JSONB, nullable=True),
        # media FKs arrive with the media table (issue #5)
        sa.Column("logo_media_id", UUID(as_uuid=True), nullable=True),
        sa.Column("banner_media_id", UUID(as_uuid=True), nullable=True),
        sa.Column("logo_url", sa.Text, nullable=True),
        sa.Column("banner_url", sa.Text, nullable=True),
        sa.Column(
            "ratings",
            JSONB,
            nullable=False,
            server_default=sa.text("""'{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}'::jsonb"""),
        ),
        sa.Column("categories", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("badge", sa.Text, nullable=True),
        sa.Column("billing_customer_id", sa.Text, nullable=True),
        sa.Column(
            "owner_user_id",
            UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="RESTRICT", name="fk_stores_owner_user_id_users"),
            nullable=False,
        ),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(_in("type", ("buyer", "vendor")), name="ck_stores_type"),
        sa.CheckConstraint(
            _in("kyc_status", ("pending_verification", "verified", "rejected", "expired", "suspended")),
            name="ck_stores_kyc_status",
        ),
        sa.CheckConstraint(_in("badge", ("top_brand", "quality_verified")), name="ck_stores_badge"),
        sa.CheckConstraint("btrim(company_name) <> ''", name="ck_stores_company_name_not_blank"),
        sa.CheckConstraint(
            "btrim(address_line1) <> '' AND btrim(address_city) <> '' AND btrim(address_postal_code) <> ''",
            name="ck_stores_address_not_blank",
        ),
        sa.CheckConstraint("address_state ~ '^[A-Z]{2}$'", name="ck_stores_address_state_code"),
        sa.CheckConstraint("address_country ~ '^[A-Z]{2}$'", name="ck_stores_address_country_code"),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180", name="ck_stores_lat_lng_range"
        ),
        sa.CheckConstraint("delivery_radius_meters BETWEEN 0 AND 1000000", name="ck_stores_delivery_radius"),
        sa.CheckConstraint(
            "categories <@ ARRAY[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]::text[]",
            name="ck_stores_categories",
        ),
    )
    op.create_index("ix_stores_created_at_id", "stores", ["created_at", "id"])
    op.create_index("ix_stores_owner_user_id", "stores", ["owner_user_id"])
    op.create_index(
        "ix_stores_subscription_override_by_user_id", "stores", ["subscription_override_by_user_id"]
    )

    op.create_table(
        "store_memberships",
        _uuid_pk(),
        sa.Column(
            "store_id",
            UUID(as_uuid=True),
            sa.ForeignKey("stores.id", ondelete="CASCADE", name="fk_store_memberships_store_id_stores"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_store_memberships_user_id_users"),
            nullable=False,
        ),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column(
            "invited_by_user_id",
            UUID(as_uuid=True),
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name="fk_store_memberships_invited_by_user_id_users"
            ),
            nullable=True,
        ),
        *_timestamps(),
        sa.UniqueConstraint("store_id", "user_id", name="uq_store_memberships_store_id_user_id"),
        sa.CheckConstraint(
            _in("role", ("owner", "manager", "staff", "ops")), name="ck_store_memberships_role"
        ),
        sa.CheckConstraint(_in("status", ("invited", "active")), name="ck_store_memberships_status"),
    )
    op.create_index(
        "ix_store_memberships_user_id_created_at", "store_memberships", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "ix_store_memberships_store_id_created_at", "store_memberships", ["store_id", "created_at", "id"]
    )
    op.create_index("ix_store_memberships_invited_by_user_id", "store_memberships", ["invited_by_user_id"])

    op.create_table(
        "audit_logs",
        _uuid_pk(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_user_id", UUID(as_uuid=True), nullable=True),
        sa.Column("actor_store_id", UUID(as_uuid=True), nullable=True),
        sa.Column("actor_role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target_id", UUID(as_uuid=True), nullable=True),
        sa.Column("payload", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.CheckConstraint(
            _in("actor_role", ("owner", "manager", "staff", "ops", "agent", "admin", "system", "anonymous")),
            name="ck_audit_logs_actor_role",
        ),
        sa.CheckConstraint("action ~ '^[a-z_]+(\\.[a-z_]+)+$'", name="ck_audit_logs_action_format"),
    )
    op.create_index("ix_audit_logs_created_at_id", "audit_logs", ["created_at", "id"])
    op.create_index("ix_audit_logs_actor_user_id_created_at", "audit_logs", ["actor_user_id", "created_at"])
    op.create_index("ix_audit_logs_actor_store_id_created_at", "audit_logs", ["actor_store_id", "created_at"])
    op.create_index(
        "ix_audit_logs_target_created_at", "audit_logs", ["target_type", "target_id", "created_at"]
    )
    op.create_index("ix_audit_logs_action_created_at", "audit_logs", ["action", "created_at"])
    op.create_index("ix_audit_logs_request_id_created_at", "audit_logs", ["request_id", "created_at"])
    # History is immutable: only a migration dropping this trigger could alter it. TRUNCATE is left to
    # database privileges (test suites reset tables with it).
    op.execute(
        """
        CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs "
        "FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_logs_append_only ON audit_logs")
    op.execute("DROP FUNCTION audit_logs_append_only()")
    op.drop_table("audit_logs")
    op.drop_table("store_memberships")
    op.drop_table("stores")
    op.drop_table("users")
