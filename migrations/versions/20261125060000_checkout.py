"""checkout: cart quote snapshot, vendor orders, order line items, payment intents"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "20261125060000"
down_revision = "20261125050000"
branch_labels = None
depends_on = None

CART_STATUSES = ("active", "converted")
CART_ITEM_STATUSES = ("ok", "not_available", "invalid")
VENDOR_GROUP_STATUSES = ("ok", "invalid")
PAYMENT_METHODS = ("cash", "ach")
VENDOR_ORDER_STATUSES = (
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
)
LINE_ITEM_STATUSES = ("pending", "fulfilled", "rejected")
FULFILLMENT_STATUSES = ("pending", "partial", "fulfilled")
SHIPPING_STATUSES = ("pending", "in_transit", "delivered")
PAYMENT_STATUSES = ("unpaid", "pending", "settled", "paid", "failed", "rejected")
REFUND_STATUSES = ("none", "partial", "full")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _fk(name: str, target: str, ondelete: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _cents(name: str, default: int | None = None) -> sa.Column[object]:
    server_default = sa.text(str(default)) if default is not None else None
    return sa.Column(name, sa.BigInteger, nullable=False, server_default=server_default)


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True))


def _warnings() -> sa.Column[object]:
    return sa.Column("warnings", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "cart_records",
        _id(),
        _fk("buyer_store_id", "stores.id", "CASCADE"),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'active'")),
        sa.Column("checkout_group_id", UUID(as_uuid=True)),
        sa.Column("shipping_address", JSONB),
        sa.Column("billing_address", JSONB),
        sa.Column("payment_method", sa.Text),
        sa.Column("shipping_line", JSONB),
        sa.Column("tip_cents", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        _moment("converted_at"),
        sa.Column("currency", sa.Text, nullable=False, server_default=sa.text("'USD'")),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        _cents("subtotal_cents"),
        _cents("discounts_cents"),
        _cents("total_cents"),
        sa.Column("ad_tokens", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        *_timestamps(),
        sa.CheckConstraint(_in("status", CART_STATUSES), name="ck_cart_records_status"),
        sa.CheckConstraint(_in("payment_method", PAYMENT_METHODS), name="ck_cart_records_payment_method"),
        sa.CheckConstraint("currency = 'USD'", name="ck_cart_records_currency"),
        sa.CheckConstraint("tip_cents >= 0", name="ck_cart_records_tip_cents"),
        sa.CheckConstraint(
            "subtotal_cents >= 0 AND discounts_cents >= 0 AND discounts_cents <= subtotal_cents "
            "AND total_cents = subtotal_cents - discounts_cents",
            name="ck_cart_records_totals",
        ),
        sa.CheckConstraint(
            "status = 'active' OR (converted_at IS NOT NULL AND checkout_group_id IS NOT NULL)",
            name="ck_cart_records_converted_fields",
        ),
    )
    # One active cart per buyer: the quote's upsert target, which settles concurrent first quotes.
    op.create_index(
        "uq_cart_records_active_buyer",
        "cart_records",
        ["buyer_store_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_cart_records_buyer_store_id_created_at", "cart_records", ["buyer_store_id", "created_at"]
    )
    # Confirmation by group id; a group belongs to exactly one cart.
    op.create_index(
        "uq_cart_records_checkout_group_id",
        "cart_records",
        ["checkout_group_id"],
        unique=True,
        postgresql_where=sa.text("checkout_group_id IS NOT NULL"),
    )

    op.create_table(
        "cart_items",
        _id(),
        _fk("cart_id", "cart_records.id", "CASCADE"),
        sa.Column("position", sa.Integer, nullable=False),
        # RESTRICT: a product referenced by a cart is deactivated, never deleted (commerce.md §4.3).
        _fk("product_id", "products.id", "RESTRICT"),
        _fk("vendor_store_id", "stores.id", "RESTRICT"),
        sa.Column("vendor_store_name", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("thumbnail", sa.Text),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("moq", sa.Integer, nullable=False),
        sa.Column("max_qty", sa.Integer),
        sa.Column("quantity", sa.Integer, nullable=False),
        _cents("unit_price_cents"),
        _cents("effective_unit_price_cents"),
        _cents("line_subtotal_cents"),
        _cents("line_discounts_cents"),
        _cents("line_total_cents"),
        sa.Column("applied_volume_discount", JSONB),
        sa.Column("status", sa.Text, nullable=False),
        _warnings(),
        *_timestamps(),
        sa.CheckConstraint(_in("status", CART_ITEM_STATUSES), name="ck_cart_items_status"),
        sa.CheckConstraint("quantity > 0 AND moq >= 1 AND position >= 0", name="ck_cart_items_quantities"),
        sa.CheckConstraint(
            "unit_price_cents >= 0 AND effective_unit_price_cents >= 0 AND line_discounts_cents >= 0 "
            "AND line_discounts_cents <= line_subtotal_cents "
            "AND line_total_cents = line_subtotal_cents - line_discounts_cents",
            name="ck_cart_items_amounts",
        ),
    )
    op.create_index("ix_cart_items_cart_id_position", "cart_items", ["cart_id", "position"])
    op.create_index("ix_cart_items_product_id", "cart_items", ["product_id"])
    op.create_index("ix_cart_items_vendor_store_id", "cart_items", ["vendor_store_id"])

    op.create_table(
        "cart_vendor_groups",
        _id(),
        _fk("cart_id", "cart_records.id", "CASCADE"),
        _fk("vendor_store_id", "stores.id", "RESTRICT"),
        sa.Column("status", sa.Text, nullable=False),
        _warnings(),
        _cents("subtotal_cents"),
        _cents("line_discounts_cents"),
        sa.Column("promo", JSONB),
        _cents("promo_discount_cents"),
        _cents("discounts_cents"),
        _cents("total_cents"),
        *_timestamps(),
        sa.UniqueConstraint(
            "cart_id", "vendor_store_id", name="uq_cart_vendor_groups_cart_id_vendor_store_id"
        ),
        sa.CheckConstraint(_in("status", VENDOR_GROUP_STATUSES), name="ck_cart_vendor_groups_status"),
        sa.CheckConstraint(
            "subtotal_cents >= 0 AND line_discounts_cents >= 0 AND promo_discount_cents >= 0 "
            "AND discounts_cents <= subtotal_cents AND total_cents = subtotal_cents - discounts_cents",
            name="ck_cart_vendor_groups_totals",
        ),
    )
    op.create_index("ix_cart_vendor_groups_vendor_store_id", "cart_vendor_groups", ["vendor_store_id"])

    op.execute("CREATE SEQUENCE vendor_order_number_seq")
    op.create_table(
        "vendor_orders",
        _id(),
        # RESTRICT: deleting a cart never cascades into orders.
        _fk("cart_id", "cart_records.id", "RESTRICT"),
        sa.Column("checkout_group_id", UUID(as_uuid=True), nullable=False),
        _fk("buyer_store_id", "stores.id", "RESTRICT"),
        _fk("vendor_store_id", "stores.id", "RESTRICT"),
        sa.Column(
            "order_number",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("nextval('vendor_order_number_seq')"),
        ),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'created_pending'")),
        sa.Column("refund_status", sa.Text, nullable=False, server_default=sa.text("'none'")),
        sa.Column("fulfillment_status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("shipping_status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("currency", sa.Text, nullable=False, server_default=sa.text("'USD'")),
        sa.Column("shipping_address", JSONB, nullable=False),
        sa.Column("payment_method", sa.Text, nullable=False),
        sa.Column("shipping_line", JSONB),
        _warnings(),
        sa.Column("promo", JSONB),
        sa.Column("ad_token", sa.Text),
        _cents("subtotal_cents"),
        _cents("discounts_cents"),
        _cents("tax_cents", 0),
        _cents("transport_fee_cents", 0),
        _cents("total_cents"),
        _cents("balance_due_cents"),
        _fk("retry_of_order_id", "vendor_orders.id", "RESTRICT", nullable=True),
        _fk("manifest_media_id", "media.id", "RESTRICT", nullable=True),
        _moment("manifest_generated_at"),
        _moment("ready_at"),
        _moment("fulfilled_at"),
        _moment("delivered_at"),
        _moment("canceled_at"),
        _moment("expired_at"),
        _moment("closed_at"),
        *_timestamps(),
        sa.UniqueConstraint("order_number", name="uq_vendor_orders_order_number"),
        # One order per vendor per checkout: a concurrent second conversion fails here.
        sa.UniqueConstraint(
            "checkout_group_id", "vendor_store_id", name="uq_vendor_orders_checkout_group_id_vendor_store_id"
        ),
        sa.UniqueConstraint("retry_of_order_id", name="uq_vendor_orders_retry_of_order_id"),
        sa.CheckConstraint("buyer_store_id <> vendor_store_id", name="ck_vendor_orders_parties"),
        sa.CheckConstraint(_in("status", VENDOR_ORDER_STATUSES), name="ck_vendor_orders_status"),
        sa.CheckConstraint(_in("refund_status", REFUND_STATUSES), name="ck_vendor_orders_refund_status"),
        sa.CheckConstraint(
            _in("fulfillment_status", FULFILLMENT_STATUSES), name="ck_vendor_orders_fulfillment_status"
        ),
        sa.CheckConstraint(
            _in("shipping_status", SHIPPING_STATUSES), name="ck_vendor_orders_shipping_status"
        ),
        sa.CheckConstraint(_in("payment_method", PAYMENT_METHODS), name="ck_vendor_orders_payment_method"),
        sa.CheckConstraint("currency = 'USD'", name="ck_vendor_orders_currency"),
        sa.CheckConstraint(
            "subtotal_cents >= 0 AND discounts_cents >= 0 AND discounts_cents <= subtotal_cents "
            "AND tax_cents >= 0 AND transport_fee_cents >= 0 "
            "AND total_cents = subtotal_cents - discounts_cents + tax_cents + transport_fee_cents "
            "AND balance_due_cents >= 0 AND balance_due_cents <= total_cents",
            name="ck_vendor_orders_totals",
        ),
    )
    op.execute("ALTER SEQUENCE vendor_order_number_seq OWNED BY vendor_orders.order_number")
    # Order lists (commerce.md §8.4): buyer and vendor perspectives newest first, the vendor's status
    # filter ("needs action"), storefront history between one buyer and one vendor, the TTL job's scan.
    op.create_index(
        "ix_vendor_orders_buyer_created_at",
        "vendor_orders",
        ["buyer_store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_vendor_orders_vendor_status_created_at",
        "vendor_orders",
        ["vendor_store_id", "status", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_vendor_orders_vendor_created_at",
        "vendor_orders",
        ["vendor_store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_vendor_orders_buyer_vendor_created_at",
        "vendor_orders",
        ["buyer_store_id", "vendor_store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index("ix_vendor_orders_status_created_at", "vendor_orders", ["status", "created_at"])
    op.create_index("ix_vendor_orders_cart_id", "vendor_orders", ["cart_id"])
    op.create_index(
        "ix_vendor_orders_manifest_media_id",
        "vendor_orders",
        ["manifest_media_id"],
        postgresql_where=sa.text("manifest_media_id IS NOT NULL"),
    )

    op.create_table(
        "order_line_items",
        _id(),
        _fk("order_id", "vendor_orders.id", "CASCADE"),
        # SET NULL: a deleted product leaves the line's snapshot in place.
        _fk("product_id", "products.id", "SET NULL", nullable=True),
        _fk("cart_item_id", "cart_items.id", "SET NULL", nullable=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sku", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("strain", sa.Text),
        sa.Column("classification", sa.Text),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("thumbnail", sa.Text),
        sa.Column("moq", sa.Integer, nullable=False),
        sa.Column("max_qty", sa.Integer),
        _cents("unit_price_cents"),
        sa.Column("qty", sa.Integer, nullable=False),
        _cents("discount_cents"),
        _cents("line_subtotal_cents"),
        _cents("total_cents"),
        _warnings(),
        sa.Column("applied_volume_discount", JSONB),
        sa.Column("ad_token", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("notes", sa.Text),
        *_timestamps(),
        sa.CheckConstraint(_in("status", LINE_ITEM_STATUSES), name="ck_order_line_items_status"),
        sa.CheckConstraint("qty > 0 AND moq >= 1 AND position >= 0", name="ck_order_line_items_quantities"),
        sa.CheckConstraint(
            "unit_price_cents >= 0 AND discount_cents >= 0 AND discount_cents <= line_subtotal_cents "
            "AND total_cents = line_subtotal_cents - discount_cents",
            name="ck_order_line_items_amounts",
        ),
        sa.CheckConstraint("char_length(notes) <= 500", name="ck_order_line_items_notes_length"),
    )
    op.create_index("ix_order_line_items_order_id_position", "order_line_items", ["order_id", "position"])
    op.create_index(
        "ix_order_line_items_product_id",
        "order_line_items",
        ["product_id"],
        postgresql_where=sa.text("product_id IS NOT NULL"),
    )
    op.create_index(
        "ix_order_line_items_cart_item_id",
        "order_line_items",
        ["cart_item_id"],
        postgresql_where=sa.text("cart_item_id IS NOT NULL"),
    )

    op.create_table(
        "payment_intents",
        _id(),
        _fk("order_id", "vendor_orders.id", "CASCADE"),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'unpaid'")),
        _cents("amount_cents"),
        _moment("cash_collected_at"),
        _moment("vendor_paid_at"),
        sa.Column("failure_reason", sa.Text),
        *_timestamps(),
        sa.UniqueConstraint("order_id", name="uq_payment_intents_order_id"),
        sa.CheckConstraint(_in("method", PAYMENT_METHODS), name="ck_payment_intents_method"),
        sa.CheckConstraint(_in("status", PAYMENT_STATUSES), name="ck_payment_intents_status"),
        sa.CheckConstraint("amount_cents >= 0", name="ck_payment_intents_amount_cents"),
    )


def downgrade() -> None:
    op.drop_table("payment_intents")
    op.drop_table("order_line_items")
    op.drop_table("vendor_orders")  # drops the sequence it owns
    op.drop_table("cart_vendor_groups")
    op.drop_table("cart_items")
    op.drop_table("cart_records")
