"""analytics: the postgres warehouse (schema analytics: marketplace_events, ad_events)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "20261207030000"
down_revision = "20261207020000"
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "marketplace_events",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkout_group_id", UUID(as_uuid=True)),
        sa.Column("order_id", UUID(as_uuid=True)),
        sa.Column("buyer_store_id", UUID(as_uuid=True)),
        sa.Column("vendor_store_id", UUID(as_uuid=True)),
        sa.Column("attributed_ad_id", UUID(as_uuid=True)),
        sa.Column("buyer_zip", sa.Text),
        sa.Column("buyer_lat", sa.Float(precision=53)),
        sa.Column("buyer_lng", sa.Float(precision=53)),
        *(
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
            for name in (
                "subtotal_cents",
                "discounts_cents",
                "tax_cents",
                "transport_fee_cents",
                "gross_revenue_cents",
                "refund_cents",
                "net_revenue_cents",
            )
        ),
        sa.Column("items", JSONB),
        sa.Column("payload", JSONB),
        sa.CheckConstraint(
            "event_type IN ('order_created', 'cash_collected', 'order_paid', 'order_canceled', 'order_expired')",
            name="ck_marketplace_events_event_type",
        ),
        schema=SCHEMA,
    )
    # The spec's indexes; the scope indexes also carry event_type so each dashboard query reads one
    # store's rows of one kind in time order (bench/analytics.py).
    op.create_index(
        "ix_marketplace_events_vendor_occurred",
        "marketplace_events",
        ["vendor_store_id", "occurred_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_marketplace_events_buyer_occurred",
        "marketplace_events",
        ["buyer_store_id", "occurred_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_marketplace_events_order_type",
        "marketplace_events",
        ["order_id", "event_type"],
        schema=SCHEMA,
    )
    op.create_table(
        "ad_events",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("ad_id", UUID(as_uuid=True), nullable=False),
        sa.Column("vendor_store_id", UUID(as_uuid=True), nullable=False),
        sa.Column("buyer_store_id", UUID(as_uuid=True)),
        sa.Column("attributed_order_id", UUID(as_uuid=True)),
        sa.Column("cost_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("revenue_cents", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("buyer_zip", sa.Text),
        sa.Column("buyer_lat", sa.Float(precision=53)),
        sa.Column("buyer_lng", sa.Float(precision=53)),
        sa.Column("payload", JSONB),
        sa.CheckConstraint(
            "type IN ('conversion', 'charge', 'impression', 'click')", name="ck_ad_events_type"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_ad_events_ad_occurred", "ad_events", ["ad_id", "occurred_at"], schema=SCHEMA)
    op.create_index(
        "ix_ad_events_vendor_occurred", "ad_events", ["vendor_store_id", "occurred_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("ad_events", schema=SCHEMA)
    op.drop_table("marketplace_events", schema=SCHEMA)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
