"""billing: plans, subscriptions, payment methods, charges, usage charges, sandbox provider objects"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "20261207010000"
down_revision = "20261125070000"
branch_labels = None
depends_on = None

PLAN_STATUSES = ("active", "deprecated", "hidden")
PLAN_INTERVALS = ("EVERY_30_DAYS", "ANNUAL")
SUBSCRIPTION_STATUSES = (
    "trialing",
    "active",
    "past_due",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "unpaid",
    "paused",
)
PAYMENT_METHOD_TYPES = ("card", "us_bank_account", "other")
CHARGE_TYPES = ("subscription", "ad_spend", "other")
CHARGE_STATUSES = ("pending", "succeeded", "failed", "refunded")
USAGE_TYPES = ("ad_spend",)
USAGE_STATUSES = ("pending", "billed", "failed", "skipped")
SANDBOX_KINDS = ("customer", "card", "subscription", "payment", "invoice")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True))


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _fk(name: str, target: str, ondelete: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _jsonb(name: str) -> sa.Column[object]:
    return sa.Column(name, JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))


def _flag(name: str, default: bool) -> sa.Column[object]:
    return sa.Column(name, sa.Boolean, nullable=False, server_default=sa.text("true" if default else "false"))


# Check constraint names go through op.f(): without it Alembic applies the metadata's naming convention a
# second time (ck_<table>_ck_<table>_<name>), and the names would not match the models.


def upgrade() -> None:
    op.create_table(
        "billing_plans",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'active'")),
        sa.Column("provider_plan_id", sa.Text, nullable=False),
        _flag("test", False),
        _flag("is_default", False),
        sa.Column("trial_days", sa.Integer, nullable=False, server_default=sa.text("0")),
        _flag("trial_require_payment_method", False),
        _flag("trial_start_on_activation", True),
        sa.Column("interval", sa.Text, nullable=False),
        sa.Column("price_amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency_code", sa.Text, nullable=False, server_default=sa.text("'USD'")),
        sa.Column("features", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        _jsonb("ui"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("id ~ '^[a-z0-9_]+$'", name=op.f("ck_billing_plans_id_format")),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_billing_plans_name_not_blank")),
        sa.CheckConstraint(_in("status", PLAN_STATUSES), name=op.f("ck_billing_plans_status")),
        sa.CheckConstraint(_in("interval", PLAN_INTERVALS), name=op.f("ck_billing_plans_interval")),
        sa.CheckConstraint("price_amount_cents >= 0", name=op.f("ck_billing_plans_price_amount_cents")),
        sa.CheckConstraint("trial_days >= 0", name=op.f("ck_billing_plans_trial_days")),
        sa.CheckConstraint("currency_code = 'USD'", name=op.f("ck_billing_plans_currency_code")),
        sa.CheckConstraint(
            "btrim(provider_plan_id) <> ''", name=op.f("ck_billing_plans_provider_plan_id_not_blank")
        ),
        sa.UniqueConstraint("provider_plan_id", name="uq_billing_plans_provider_plan_id"),
    )
    # At most one default plan.
    op.create_index(
        "uq_billing_plans_default",
        "billing_plans",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index(
        "ix_billing_plans_order",
        "billing_plans",
        [sa.text("is_default DESC"), sa.text("test DESC"), "name", "id"],
    )

    op.create_table(
        "subscriptions",
        _id(),
        _fk("store_id", "stores.id", "CASCADE"),
        sa.Column("billing_plan_id", sa.Text, sa.ForeignKey("billing_plans.id", ondelete="SET NULL")),
        sa.Column("provider_subscription_id", sa.Text, nullable=False),
        sa.Column("provider_customer_id", sa.Text),
        sa.Column("provider_card_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("price_id", sa.Text),
        _moment("current_period_start"),
        _moment("current_period_end"),
        _flag("cancel_at_period_end", False),
        _moment("canceled_at"),
        _moment("paused_at"),
        _moment("pause_effective_at"),
        _moment("resume_effective_at"),
        _jsonb("metadata"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name=op.f("ck_subscriptions_status")),
        sa.UniqueConstraint("provider_subscription_id", name="uq_subscriptions_provider_subscription_id"),
    )
    # One live subscription per store; ended rows stay as history (re-subscribing after cancel is allowed).
    op.create_index(
        "uq_subscriptions_live_store",
        "subscriptions",
        ["store_id"],
        unique=True,
        postgresql_where=sa.text("status NOT IN ('canceled', 'incomplete_expired')"),
    )
    op.create_index("ix_subscriptions_store_id_created_at", "subscriptions", ["store_id", "created_at"])
    op.create_index("ix_subscriptions_billing_plan_id", "subscriptions", ["billing_plan_id"])
    op.create_index("ix_subscriptions_provider_customer_id", "subscriptions", ["provider_customer_id"])
    op.create_index("ix_subscriptions_updated_at_id", "subscriptions", ["updated_at", "id"])

    op.create_table(
        "payment_methods",
        _id(),
        _fk("store_id", "stores.id", "CASCADE"),
        sa.Column("provider_card_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False, server_default=sa.text("'card'")),
        sa.Column("fingerprint", sa.Text),
        sa.Column("card_brand", sa.Text),
        sa.Column("card_last4", sa.Text),
        sa.Column("card_exp_month", sa.Integer),
        sa.Column("card_exp_year", sa.Integer),
        _jsonb("billing_details"),
        _jsonb("metadata"),
        _flag("is_default", False),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("type", PAYMENT_METHOD_TYPES), name=op.f("ck_payment_methods_type")),
        sa.CheckConstraint("card_last4 ~ '^[0-9]{4}$'", name=op.f("ck_payment_methods_card_last4")),
        sa.CheckConstraint("card_exp_month BETWEEN 1 AND 12", name=op.f("ck_payment_methods_card_exp_month")),
        sa.CheckConstraint(
            "card_exp_year BETWEEN 2000 AND 9999", name=op.f("ck_payment_methods_card_exp_year")
        ),
        sa.UniqueConstraint("provider_card_id", name="uq_payment_methods_provider_card_id"),
    )
    # At most one default card per store.
    op.create_index(
        "uq_payment_methods_default_store",
        "payment_methods",
        ["store_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_index(
        "ix_payment_methods_store_id_created_at", "payment_methods", ["store_id", "created_at", "id"]
    )

    op.create_table(
        "charges",
        _id(),
        _fk("store_id", "stores.id", "RESTRICT"),
        sa.Column("type", sa.Text, nullable=False),
        _fk("subscription_id", "subscriptions.id", "SET NULL", nullable=True),
        _fk("payment_method_id", "payment_methods.id", "SET NULL", nullable=True),
        sa.Column("provider_charge_id", sa.Text, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False, server_default=sa.text("'usd'")),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("failure_reason", sa.Text),
        _moment("billed_at"),
        _jsonb("metadata"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("type", CHARGE_TYPES), name=op.f("ck_charges_type")),
        sa.CheckConstraint(_in("status", CHARGE_STATUSES), name=op.f("ck_charges_status")),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_charges_amount_cents")),
        sa.CheckConstraint("currency = 'usd'", name=op.f("ck_charges_currency")),
        sa.UniqueConstraint("provider_charge_id", name="uq_charges_provider_charge_id"),
    )
    op.create_index(
        "ix_charges_store_id_created_at_id",
        "charges",
        ["store_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index("ix_charges_subscription_id", "charges", ["subscription_id"])
    op.create_index("ix_charges_payment_method_id", "charges", ["payment_method_id"])

    op.create_table(
        "usage_charges",
        _id(),
        _fk("store_id", "stores.id", "RESTRICT"),
        _fk("subscription_id", "subscriptions.id", "SET NULL", nullable=True),
        _fk("charge_id", "charges.id", "SET NULL", nullable=True),
        sa.Column("usage_type", sa.Text, nullable=False, server_default=sa.text("'ad_spend'")),
        sa.Column("for_date", sa.Date, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("amount_cents", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("currency", sa.Text, nullable=False, server_default=sa.text("'usd'")),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempt_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("description", sa.Text),
        _jsonb("metadata"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("usage_type", USAGE_TYPES), name=op.f("ck_usage_charges_usage_type")),
        sa.CheckConstraint(_in("status", USAGE_STATUSES), name=op.f("ck_usage_charges_status")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_usage_charges_quantity")),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_usage_charges_amount_cents")),
        sa.CheckConstraint("attempt_count >= 0", name=op.f("ck_usage_charges_attempt_count")),
        sa.CheckConstraint("currency = 'usd'", name=op.f("ck_usage_charges_currency")),
        # Each store/day is billed once.
        sa.UniqueConstraint(
            "store_id", "usage_type", "for_date", name="uq_usage_charges_store_id_usage_type_for_date"
        ),
    )
    op.create_index("ix_usage_charges_status_for_date", "usage_charges", ["status", "for_date"])
    op.create_index("ix_usage_charges_charge_id", "usage_charges", ["charge_id"])
    op.create_index("ix_usage_charges_subscription_id", "usage_charges", ["subscription_id"])

    op.create_table(
        "billing_sandbox_objects",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        _jsonb("data"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint(_in("kind", SANDBOX_KINDS), name=op.f("ck_billing_sandbox_objects_kind")),
        sa.UniqueConstraint("idempotency_key", name="uq_billing_sandbox_objects_idempotency_key"),
    )
    op.create_index(
        "ix_billing_sandbox_objects_kind_created_at", "billing_sandbox_objects", ["kind", "created_at"]
    )
    # stores.billing_customer_id: the webhook finds the store of an unknown subscription by its customer.
    op.create_index(
        "ix_stores_billing_customer_id",
        "stores",
        ["billing_customer_id"],
        postgresql_where=sa.text("billing_customer_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_stores_billing_customer_id", table_name="stores")
    op.drop_table("billing_sandbox_objects")
    op.drop_table("usage_charges")
    op.drop_table("charges")
    op.drop_table("payment_methods")
    op.drop_table("subscriptions")
    op.drop_table("billing_plans")
