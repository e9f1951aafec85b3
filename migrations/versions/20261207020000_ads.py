"""ads: ads, ad creatives, per-day rollups (money-ads-analytics.md §2.1)"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "20261207020000"
down_revision = "20261207010000"
branch_labels = None
depends_on = None

AD_STATUSES = ("draft", "active", "paused", "expired", "archived")
PLACEMENTS = ("hero", "store", "product")
TARGET_TYPES = ("store", "product")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _fk(name: str, target: str, ondelete: str, *, nullable: bool = False, **kw: object) -> sa.Column[object]:
    return sa.Column(
        name, UUID(as_uuid=True), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, **kw
    )


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default=sa.text("0"))


def upgrade() -> None:
    op.create_table(
        "ads",
        _id(),
        _fk("store_id", "stores.id", "CASCADE"),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'draft'")),
        sa.Column("placement", sa.Text, nullable=False),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target_id", UUID(as_uuid=True), nullable=False),
        sa.Column("bid_cents", sa.BigInteger, nullable=False),
        sa.Column("daily_budget_cents", sa.BigInteger, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("paused_reason", sa.Text),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("status", AD_STATUSES), name="ck_ads_status"),
        sa.CheckConstraint(_in("placement", PLACEMENTS), name="ck_ads_placement"),
        sa.CheckConstraint(_in("target_type", TARGET_TYPES), name="ck_ads_target_type"),
        # §2.2: hero takes a store or a product; the store and product placements only their own kind.
        sa.CheckConstraint(
            "placement = 'hero' OR (placement = 'store' AND target_type = 'store') "
            "OR (placement = 'product' AND target_type = 'product')",
            name="ck_ads_placement_target",
        ),
        sa.CheckConstraint("bid_cents >= 0", name="ck_ads_bid_cents"),
        sa.CheckConstraint("daily_budget_cents >= 0", name="ck_ads_daily_budget_cents"),
        sa.CheckConstraint("ends_at >= starts_at", name="ck_ads_window"),
        sa.CheckConstraint(
            "paused_reason IS NULL OR paused_reason IN ('billing_failed')", name="ck_ads_paused_reason"
        ),
    )
    # Serving: active ads of a placement inside their window; the store id ends the key for the gate join.
    op.create_index(
        "ix_ads_status_placement_starts_at_ends_at_store_id",
        "ads",
        ["status", "placement", "starts_at", "ends_at", "store_id"],
    )
    op.create_index("ix_ads_target_type_target_id", "ads", ["target_type", "target_id"])
    # The vendor's ad list (created_at DESC, id DESC).
    op.create_index("ix_ads_store_id_created_at_id", "ads", ["store_id", "created_at", "id"])

    op.create_table(
        "ad_creatives",
        _id(),
        _fk("ad_id", "ads.id", "CASCADE"),
        _fk("media_id", "media.id", "SET NULL", nullable=True),
        sa.Column("destination_url", sa.Text, nullable=False),
        sa.Column("headline", sa.Text),
        sa.Column("body", sa.Text),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("destination_url ~ '^https?://'", name="ck_ad_creatives_destination_url"),
        sa.CheckConstraint("char_length(headline) <= 90", name="ck_ad_creatives_headline_length"),
        sa.CheckConstraint("char_length(body) <= 250", name="ck_ad_creatives_body_length"),
    )
    op.create_index("ix_ad_creatives_ad_id_created_at_id", "ad_creatives", ["ad_id", "created_at", "id"])
    op.create_index("ix_ad_creatives_media_id", "ad_creatives", ["media_id"])

    op.create_table(
        "ad_daily_rollups",
        _fk("ad_id", "ads.id", "CASCADE", primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        _fk("vendor_store_id", "stores.id", "CASCADE"),
        _count("impressions"),
        _count("clicks"),
        _count("spend_millicents"),
        _count("spend_cents"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("impressions >= 0", name="ck_ad_daily_rollups_impressions"),
        sa.CheckConstraint("clicks >= 0", name="ck_ad_daily_rollups_clicks"),
        sa.CheckConstraint("spend_millicents >= 0", name="ck_ad_daily_rollups_spend_millicents"),
        sa.CheckConstraint("spend_cents >= 0", name="ck_ad_daily_rollups_spend_cents"),
    )
    op.create_index("ix_ad_daily_rollups_vendor_store_id_day", "ad_daily_rollups", ["vendor_store_id", "day"])


def downgrade() -> None:
    op.drop_table("ad_daily_rollups")
    op.drop_table("ad_creatives")
    op.drop_table("ads")
