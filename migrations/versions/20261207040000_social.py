"""social: wishlist items, store reviews and the vendor CRM's hidden customers"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "20261207040000"
down_revision = "20261207030000"
branch_labels = None
depends_on = None


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _fk(column: str, table: str, target: str, ondelete: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        column,
        UUID(as_uuid=True),
        sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}"),
        nullable=nullable,
    )


def _now(column: str) -> sa.Column[object]:
    return sa.Column(column, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "wishlist_items",
        _id(),
        _fk("store_id", "wishlist_items", "stores", "CASCADE"),
        _fk("product_id", "wishlist_items", "products", "CASCADE"),
        _now("created_at"),
        sa.UniqueConstraint("store_id", "product_id", name="uq_wishlist_items_store_id_product_id"),
    )
    op.create_index(
        "ix_wishlist_items_store_created",
        "wishlist_items",
        ["store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index("ix_wishlist_items_product_id", "wishlist_items", ["product_id"])

    op.create_table(
        "reviews",
        _id(),
        sa.Column("review_type", sa.Text, nullable=False),
        _fk("buyer_store_id", "reviews", "stores", "CASCADE"),
        _fk("vendor_store_id", "reviews", "stores", "CASCADE"),
        _fk("buyer_user_id", "reviews", "users", "CASCADE"),
        _fk("product_id", "reviews", "products", "CASCADE", nullable=True),
        _fk("order_id", "reviews", "vendor_orders", "SET NULL", nullable=True),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("is_verified_purchase", sa.Boolean, nullable=False),
        sa.Column("is_visible", sa.Boolean, nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("review_type IN ('store', 'product')", name="ck_reviews_review_type"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),
        sa.CheckConstraint("title IS NULL OR char_length(title) <= 150", name="ck_reviews_title"),
        sa.CheckConstraint("body IS NULL OR char_length(body) <= 5000", name="ck_reviews_body"),
    )
    # One store review per (buyer store, vendor): the race between two members ends here.
    op.create_index(
        "uq_reviews_store_review",
        "reviews",
        ["buyer_store_id", "vendor_store_id"],
        unique=True,
        postgresql_where=sa.text("review_type = 'store'"),
    )
    op.create_index(
        "ix_reviews_vendor_visible",
        "reviews",
        ["vendor_store_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("is_visible"),
    )
    op.create_index("ix_reviews_buyer_user_id", "reviews", ["buyer_user_id"])
    op.create_index("ix_reviews_order_id", "reviews", ["order_id"])

    op.create_table(
        "vendor_customer_hides",
        _id(),
        _fk("vendor_store_id", "vendor_customer_hides", "stores", "CASCADE"),
        _fk("buyer_store_id", "vendor_customer_hides", "stores", "CASCADE"),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=False),
        _fk("hidden_by_user_id", "vendor_customer_hides", "users", "SET NULL", nullable=True),
        sa.UniqueConstraint(
            "vendor_store_id",
            "buyer_store_id",
            name="uq_vendor_customer_hides_vendor_store_id_buyer_store_id",
        ),
    )
    op.create_index("ix_vendor_customer_hides_buyer_store_id", "vendor_customer_hides", ["buyer_store_id"])


def downgrade() -> None:
    op.drop_table("vendor_customer_hides")
    op.drop_table("reviews")
    op.drop_table("wishlist_items")
