"""Billing tables (money-ads-analytics.md §1.2): plans, subscriptions, payment methods, charges, usage
charges and the sandbox provider's object store."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from packfinderz.models.base import Base, created_at, enum_check, updated_at, uuid_pk

PlanStatus = Literal["active", "deprecated", "hidden"]
PLAN_STATUSES: tuple[str, ...] = get_args(PlanStatus)
PlanInterval = Literal["EVERY_30_DAYS", "ANNUAL"]
PLAN_INTERVALS: tuple[str, ...] = get_args(PlanInterval)
SubscriptionStatus = Literal[
    "trialing", "active", "past_due", "canceled", "incomplete", "incomplete_expired", "unpaid", "paused"
]
SUBSCRIPTION_STATUSES: tuple[str, ...] = get_args(SubscriptionStatus)
# §1.4: entitled statuses count as active; live statuses block a new subscription.
ENTITLED_STATUSES: tuple[str, ...] = ("trialing", "active", "past_due")
ENDED_STATUSES: tuple[str, ...] = ("canceled", "incomplete_expired")
LIVE_STATUSES: tuple[str, ...] = tuple(s for s in SUBSCRIPTION_STATUSES if s not in ENDED_STATUSES)
PaymentMethodType = Literal["card", "us_bank_account", "other"]
PAYMENT_METHOD_TYPES: tuple[str, ...] = get_args(PaymentMethodType)
ChargeType = Literal["subscription", "ad_spend", "other"]
CHARGE_TYPES: tuple[str, ...] = get_args(ChargeType)
ChargeStatus = Literal["pending", "succeeded", "failed", "refunded"]
CHARGE_STATUSES: tuple[str, ...] = get_args(ChargeStatus)
UsageType = Literal["ad_spend"]
USAGE_TYPES: tuple[str, ...] = get_args(UsageType)
UsageStatus = Literal["pending", "billed", "failed", "skipped"]
USAGE_STATUSES: tuple[str, ...] = get_args(UsageStatus)
SandboxKind = Literal["customer", "card", "subscription", "payment", "invoice"]
SANDBOX_KINDS: tuple[str, ...] = get_args(SandboxKind)

_ENDED_SQL = "status NOT IN ('canceled', 'incomplete_expired')"


class BillingPlan(Base):
    """A subscription plan: one Square plan variation with its price, trial and marketing copy."""

    __tablename__ = "billing_plans"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'active'"))
    provider_plan_id: Mapped[str] = mapped_column(Text, nullable=False)
    test: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    trial_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    trial_require_payment_method: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    trial_start_on_activation: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    interval: Mapped[str] = mapped_column(Text, nullable=False)
    price_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency_code: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'USD'"))
    features: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    ui: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint("id ~ '^[a-z0-9_]+$'", name="id_format"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint(enum_check("status", PLAN_STATUSES), name="status"),
        CheckConstraint(enum_check("interval", PLAN_INTERVALS), name="interval"),
        CheckConstraint("price_amount_cents >= 0", name="price_amount_cents"),
        CheckConstraint("trial_days >= 0", name="trial_days"),
        CheckConstraint("currency_code = 'USD'", name="currency_code"),
        CheckConstraint("btrim(provider_plan_id) <> ''", name="provider_plan_id_not_blank"),
        UniqueConstraint("provider_plan_id"),
        Index("uq_billing_plans_default", "is_default", unique=True, postgresql_where=text("is_default")),
        Index("ix_billing_plans_order", text("is_default DESC"), text("test DESC"), "name", "id"),
    )


class Subscription(Base):
    """A store's provider subscription mirrored locally; one live row per store, ended rows are history."""

    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    billing_plan_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("billing_plans.id", ondelete="SET NULL")
    )
    provider_subscription_id: Mapped[str] = mapped_column(Text, nullable=False)
    provider_customer_id: Mapped[str | None] = mapped_column(Text)
    provider_card_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    price_id: Mapped[str | None] = mapped_column(Text)
    current_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_effective_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resume_effective_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # `metadata` is reserved on declarative classes, hence the attribute name.
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("status", SUBSCRIPTION_STATUSES), name="status"),
        UniqueConstraint("provider_subscription_id"),
        Index("uq_subscriptions_live_store", "store_id", unique=True, postgresql_where=text(_ENDED_SQL)),
        Index("ix_subscriptions_store_id_created_at", "store_id", "created_at"),
        Index("ix_subscriptions_billing_plan_id", "billing_plan_id"),
        Index("ix_subscriptions_provider_customer_id", "provider_customer_id"),
        # subscription-reconcile: least recently updated first.
        Index("ix_subscriptions_updated_at_id", "updated_at", "id"),
    )


class PaymentMethod(Base):
    """A store's card on file at the provider; at most one default per store."""

    __tablename__ = "payment_methods"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    provider_card_id: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'card'"))
    fingerprint: Mapped[str | None] = mapped_column(Text)
    card_brand: Mapped[str | None] = mapped_column(Text)
    card_last4: Mapped[str | None] = mapped_column(Text)
    card_exp_month: Mapped[int | None] = mapped_column(Integer)
    card_exp_year: Mapped[int | None] = mapped_column(Integer)
    billing_details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", PAYMENT_METHOD_TYPES), name="type"),
        CheckConstraint("card_last4 ~ '^[0-9]{4}$'", name="card_last4"),
        CheckConstraint("card_exp_month BETWEEN 1 AND 12", name="card_exp_month"),
        CheckConstraint("card_exp_year BETWEEN 2000 AND 9999", name="card_exp_year"),
        UniqueConstraint("provider_card_id"),
        Index(
            "uq_payment_methods_default_store", "store_id", unique=True, postgresql_where=text("is_default")
        ),
        Index("ix_payment_methods_store_id_created_at", "store_id", "created_at", "id"),
    )


class Charge(Base):
    """Money taken (or attempted) from a store: a subscription invoice or a usage payment."""

    __tablename__ = "charges"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    payment_method_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("payment_methods.id", ondelete="SET NULL")
    )
    provider_charge_id: Mapped[str] = mapped_column(Text, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'usd'"))
    status: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    billed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("type", CHARGE_TYPES), name="type"),
        CheckConstraint(enum_check("status", CHARGE_STATUSES), name="status"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        CheckConstraint("currency = 'usd'", name="currency"),
        UniqueConstraint("provider_charge_id"),
        Index("ix_charges_store_id_created_at_id", "store_id", text("created_at DESC"), text("id DESC")),
        Index("ix_charges_subscription_id", "subscription_id"),
        Index("ix_charges_payment_method_id", "payment_method_id"),
    )


class UsageCharge(Base):
    """One store's metered usage for one UTC day (ad spend), billed once by `ad-usage-billing`."""

    __tablename__ = "usage_charges"

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stores.id", ondelete="RESTRICT"), nullable=False
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    charge_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("charges.id", ondelete="SET NULL")
    )
    usage_type: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'ad_spend'"))
    for_date: Mapped[date] = mapped_column(Date, nullable=False)
    quantity: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'usd'"))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    attempt_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("usage_type", USAGE_TYPES), name="usage_type"),
        CheckConstraint(enum_check("status", USAGE_STATUSES), name="status"),
        CheckConstraint("quantity >= 0", name="quantity"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        CheckConstraint("attempt_count >= 0", name="attempt_count"),
        CheckConstraint("currency = 'usd'", name="currency"),
        UniqueConstraint("store_id", "usage_type", "for_date"),
        # ad-usage-billing's scan: pending or retryable rows of the last days.
        Index("ix_usage_charges_status_for_date", "status", "for_date"),
        Index("ix_usage_charges_charge_id", "charge_id"),
        Index("ix_usage_charges_subscription_id", "subscription_id"),
    )


class BillingSandboxObject(Base):
    """The sandbox provider's state: Square-shaped JSON per object, shared by api and worker."""

    __tablename__ = "billing_sandbox_objects"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    __table_args__ = (
        CheckConstraint(enum_check("kind", SANDBOX_KINDS), name="kind"),
        UniqueConstraint("idempotency_key"),
        Index("ix_billing_sandbox_objects_kind_created_at", "kind", "created_at"),
    )
