"""catalog: products, gallery, volume discounts, inventory, pf_distance_m and the search indexes"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, UUID

revision = "20261125050000"
down_revision = "20261125040000"
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
CLASSIFICATIONS = ("sativa", "hybrid", "indica", "cbd", "hemp", "balanced")
UNITS = ("unit", "gram", "ounce", "pound", "eighth", "sixteenth")
FLAVORS = ("earthy", "citrus", "fruity", "floral", "cheese", "diesel", "spicy", "sweet", "pine", "herbal")
FEELINGS = (
    "relaxed",
    "happy",
    "euphoric",
    "focused",
    "hungry",
    "talkative",
    "creative",
    "sleepy",
    "uplifted",
    "calm",
)
USAGE = (
    "stress_relief",
    "pain_relief",
    "sleep",
    "depression",
    "muscle_relaxant",
    "nausea",
    "anxiety",
    "appetite_stimulation",
)

# Weighted document (commerce.md §5.2): A title; B brand, strain; C subtitle + body without tags.
SEARCH_TSV = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(brand, '') || ' ' || coalesce(strain, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(subtitle, '') || ' ' || "
    "regexp_replace(coalesce(body_html, ''), '<[^>]+>', ' ', 'g')), 'C')"
)

# Haversine in metres (R = 6 371 008.8 m), asin argument clamped; a plain SQL function the planner can
# inline. stores/service.py distance_m is the same float64 formula in Python.
DISTANCE_FUNCTION = """
CREATE FUNCTION pf_distance_m(lat1 double precision, lng1 double precision,
                              lat2 double precision, lng2 double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT 2 * 6371008.8 * asin(least(1.0, sqrt(
           sin(radians(lat2 - lat1) / 2) ^ 2
           + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lng2 - lng1) / 2) ^ 2)))
$$
"""

# The full-text index is scoped by vendor state: every lexeme is indexed as '<STATE>~<lexeme>'. A buyer
# only ever sees vendors of its own state, so its query ('CA~blue':* & 'CA~dream':*) reads that state's
# postings instead of the whole country's, and fetches far fewer heap rows to check the rest of the gate.
SCOPED_TSV_FUNCTION = """
CREATE FUNCTION pf_scoped_tsv(scope text, doc tsvector)
RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT array_to_tsvector(ARRAY(SELECT scope || '~' || lexeme FROM unnest(tsvector_to_array(doc)) AS lexeme))
$$
"""

# Every write to products bumps its store's catalog version (statement-level, from the transition
# table): cached search totals are keyed by the versions of the vendors they count, so a committed
# write makes them unreachable at once. Stores being deleted (cascade) have no version to keep.
BUMP_FUNCTION = """
CREATE FUNCTION pf_bump_catalog_version() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO catalog_versions AS v (store_id, version)
  SELECT DISTINCT c.store_id, 1 FROM changed c JOIN stores s ON s.id = c.store_id ORDER BY c.store_id
  ON CONFLICT (store_id) DO UPDATE SET version = v.version + 1;
  RETURN NULL;
END
$$
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _subset(column: str, values: tuple[str, ...]) -> str:
    return f"{column} <@ ARRAY[{', '.join(repr(v) for v in values)}]::text[]"


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.execute(DISTANCE_FUNCTION)
    op.execute(SCOPED_TSV_FUNCTION)
    # Lets products carry their vendor's (immutable) state under a composite foreign key; ON UPDATE
    # CASCADE keeps the copy right should an address ever change.
    op.create_unique_constraint("uq_stores_id_address_state", "stores", ["id", "address_state"])

    op.create_table(
        "products",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("store_id", UUID(as_uuid=True), nullable=False),
        sa.Column("vendor_state", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("subtitle", sa.Text),
        sa.Column("body_html", sa.Text),
        sa.Column("brand", sa.Text),
        sa.Column("strain", sa.Text),
        sa.Column("batch_id", sa.Text),
        sa.Column("metric_tag", sa.Text),
        sa.Column("barcode", sa.Text),
        sa.Column("packaging_type", sa.Text),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("classification", sa.Text),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("feelings", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("flavors", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("usage", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("moq", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("max_qty", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("compare_at_price_cents", sa.BigInteger),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_featured", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("thc_percent", sa.Numeric(5, 2)),
        sa.Column("cbd_percent", sa.Numeric(5, 2)),
        sa.Column("coa_media_id", UUID(as_uuid=True)),
        sa.Column(
            "coa_added", sa.Boolean, sa.Computed("coa_media_id IS NOT NULL", persisted=True), nullable=False
        ),
        # "A volume tier exists", written with the tiers in the same transaction so the has_promo
        # filter needs no subquery per row.
        sa.Column("has_promo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("search_tsv", TSVECTOR, sa.Computed(SEARCH_TSV, persisted=True), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["store_id", "vendor_state"],
            ["stores.id", "stores.address_state"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name="fk_products_store_id_stores",
        ),
        sa.ForeignKeyConstraint(
            ["coa_media_id"], ["media.id"], ondelete="SET NULL", name="fk_products_coa_media_id_media"
        ),
        sa.UniqueConstraint("store_id", "sku", name="uq_products_store_id_sku"),
        sa.CheckConstraint("btrim(sku) <> '' AND btrim(title) <> ''", name="ck_products_sku_title_not_blank"),
        sa.CheckConstraint(_in("category", CATEGORIES), name="ck_products_category"),
        sa.CheckConstraint(_in("classification", CLASSIFICATIONS), name="ck_products_classification"),
        sa.CheckConstraint(_in("unit", UNITS), name="ck_products_unit"),
        sa.CheckConstraint(_subset("feelings", FEELINGS), name="ck_products_feelings"),
        sa.CheckConstraint(_subset("flavors", FLAVORS), name="ck_products_flavors"),
        sa.CheckConstraint(_subset("usage", USAGE), name="ck_products_usage"),
        sa.CheckConstraint("moq >= 1", name="ck_products_moq"),
        sa.CheckConstraint("max_qty = 0 OR max_qty >= moq", name="ck_products_max_qty"),
        sa.CheckConstraint("price_cents >= 0", name="ck_products_price_cents"),
        sa.CheckConstraint("compare_at_price_cents >= 0", name="ck_products_compare_at_price_cents"),
        sa.CheckConstraint("thc_percent BETWEEN 0 AND 100", name="ck_products_thc_percent"),
        sa.CheckConstraint("cbd_percent BETWEEN 0 AND 100", name="ck_products_cbd_percent"),
    )
    # One store's rows newest first: vendor table, storefront, inventory list, FK cascades.
    op.create_index(
        "ix_products_store_id_created_at_id",
        "products",
        ["store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    # Buyer browse (commerce.md §5.1) walks its state's active rows in keyset order; the rest of the
    # gate (the visible vendor set) is checked per row until the page is full.
    op.create_index(
        "ix_products_active_state_created_at_id",
        "products",
        ["vendor_state", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "ix_products_active_state_price_cents_id",
        "products",
        ["vendor_state", "price_cents", "id"],
        postgresql_where=sa.text("is_active"),
    )
    # Category pages (the commonest filter) get their own keyset walks.
    op.create_index(
        "ix_products_active_state_category_created_at_id",
        "products",
        ["vendor_state", "category", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "ix_products_active_state_category_price_cents_id",
        "products",
        ["vendor_state", "category", "price_cents", "id"],
        postgresql_where=sa.text("is_active"),
    )
    # Distance sort walks the nearest vendors' active rows by id; cold totals count them index-only.
    op.create_index(
        "ix_products_active_store_id_id",
        "products",
        ["store_id", "id"],
        postgresql_where=sa.text("is_active"),
    )
    op.create_index(
        "ix_products_search",
        "products",
        [sa.text("pf_scoped_tsv(vendor_state, search_tsv)")],
        postgresql_using="gin",
    )
    op.create_index(
        "ix_products_state_lower_sku",
        "products",
        ["vendor_state", sa.text("lower(sku) text_pattern_ops")],
    )
    op.create_index(
        "ix_products_coa_media_id",
        "products",
        ["coa_media_id"],
        postgresql_where=sa.text("coa_media_id IS NOT NULL"),
    )

    op.create_table(
        "product_media",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "product_id", UUID(as_uuid=True), sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("media_id", UUID(as_uuid=True), sa.ForeignKey("media.id", ondelete="SET NULL")),
        sa.Column("url", sa.Text),
        sa.Column("storage_key", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("product_id", "position", name="uq_product_media_product_id_position"),
        sa.CheckConstraint("position >= 0", name="ck_product_media_position"),
    )
    op.create_index(
        "ix_product_media_media_id",
        "product_media",
        ["media_id"],
        postgresql_where=sa.text("media_id IS NOT NULL"),
    )

    op.create_table(
        "product_volume_discounts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "store_id", UUID(as_uuid=True), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "product_id", UUID(as_uuid=True), sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("min_qty", sa.Integer, nullable=False),
        sa.Column("discount_percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("product_id", "min_qty", name="uq_product_volume_discounts_product_id_min_qty"),
        sa.CheckConstraint("min_qty >= 1", name="ck_product_volume_discounts_min_qty"),
        sa.CheckConstraint(
            "discount_percent > 0 AND discount_percent <= 100",
            name="ck_product_volume_discounts_discount_percent",
        ),
    )
    op.create_index("ix_product_volume_discounts_store_id", "product_volume_discounts", ["store_id"])

    op.create_table(
        "inventory_items",
        sa.Column(
            "product_id",
            UUID(as_uuid=True),
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("available_qty", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("reserved_qty", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("low_stock_threshold", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("available_qty >= 0", name="ck_inventory_items_available_qty"),
        sa.CheckConstraint("reserved_qty >= 0", name="ck_inventory_items_reserved_qty"),
        sa.CheckConstraint("low_stock_threshold >= 0", name="ck_inventory_items_low_stock_threshold"),
    )

    op.create_table(
        "catalog_versions",
        sa.Column(
            "store_id", UUID(as_uuid=True), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    )
    op.execute(BUMP_FUNCTION)
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER products_bump_catalog_version_{event.lower()} AFTER {event} ON products "
            f"REFERENCING {table} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION pf_bump_catalog_version()"
        )

    # The buyer gate reads the verified, subscribed vendors of one state (a few hundred at most).
    op.create_index(
        "ix_stores_visible_vendors",
        "stores",
        ["address_state", "lat"],
        postgresql_where=sa.text("type = 'vendor' AND kyc_status = 'verified' AND subscription_active"),
    )


def downgrade() -> None:
    op.drop_index("ix_stores_visible_vendors", table_name="stores")
    op.drop_table("catalog_versions")  # before products: its triggers call a function that inserts here
    op.drop_table("inventory_items")
    op.drop_table("product_volume_discounts")
    op.drop_table("product_media")
    op.drop_table("products")
    op.execute("DROP FUNCTION pf_bump_catalog_version()")
    op.drop_constraint("uq_stores_id_address_state", "stores", type_="unique")
    op.execute("DROP FUNCTION pf_scoped_tsv(text, tsvector)")
    op.execute(
        "DROP FUNCTION pf_distance_m(double precision, double precision, double precision, double precision)"
    )
