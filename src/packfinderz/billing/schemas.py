"""Billing request and response bodies (money-ads-analytics.md §1.3 to §1.8)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from packfinderz.models.billing import (
    BillingPlan,
    Charge,
    ChargeStatus,
    ChargeType,
    PaymentMethod,
    PlanInterval,
    PlanStatus,
    Subscription,
    SubscriptionStatus,
)

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=64)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Feature = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PlanUI(BaseModel):
    """Marketing copy of a plan."""

    model_config = ConfigDict(extra="forbid")

    badge: Literal["popular", "best_value", "new"] | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    bullets: list[Feature] = Field(default_factory=list, max_length=20)


class PlanFields(BaseModel):
    """The mutable fields of a plan (PATCH replaces them all)."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    status: PlanStatus
    provider_plan_id: Text200
    interval: PlanInterval
    price_amount_cents: int = Field(ge=0, le=100_000_000)
    currency_code: Literal["USD"]
    trial_days: int = Field(0, ge=0, le=365)
    trial_require_payment_method: bool = False
    trial_start_on_activation: bool = True
    test: bool = False
    is_default: bool = False
    features: list[Feature] = Field(default_factory=list, max_length=50)
    ui: PlanUI = Field(default_factory=PlanUI)


class PlanIn(PlanFields):
    """A new plan: its id (`^[a-z0-9_]+$`) and the mutable fields."""

    id: PlanId


class PlanDTO(BaseModel):
    id: str
    name: str
    status: PlanStatus
    provider_plan_id: str
    test: bool
    is_default: bool
    trial_days: int
    trial_require_payment_method: bool
    trial_start_on_activation: bool
    interval: PlanInterval
    price_amount_cents: int
    price_amount: str = Field(description='The price as a decimal string, e.g. "9.99".')
    currency_code: str
    features: list[str]
    ui: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def plan_dto(plan: BillingPlan) -> PlanDTO:
    return PlanDTO(
        id=plan.id,
        name=plan.name,
        status=plan.status,
        provider_plan_id=plan.provider_plan_id,
        test=plan.test,
        is_default=plan.is_default,
        trial_days=plan.trial_days,
        trial_require_payment_method=plan.trial_require_payment_method,
        trial_start_on_activation=plan.trial_start_on_activation,
        interval=plan.interval,
        price_amount_cents=plan.price_amount_cents,
        price_amount=str((Decimal(plan.price_amount_cents) / 100).quantize(Decimal("0.01"))),
        currency_code=plan.currency_code,
        features=list(plan.features),
        ui=dict(plan.ui),
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


class SubscriptionDTO(BaseModel):
    id: uuid.UUID
    provider_subscription_id: str
    status: SubscriptionStatus
    price_id: str | None
    billing_plan_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    paused_at: datetime | None
    pause_effective_at: datetime | None
    resume_effective_at: datetime | None


def subscription_dto(row: Subscription) -> SubscriptionDTO:
    return SubscriptionDTO(
        id=row.id,
        provider_subscription_id=row.provider_subscription_id,
        status=row.status,
        price_id=row.price_id,
        billing_plan_id=row.billing_plan_id,
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        cancel_at_period_end=row.cancel_at_period_end,
        canceled_at=row.canceled_at,
        paused_at=row.paused_at,
        pause_effective_at=row.pause_effective_at,
        resume_effective_at=row.resume_effective_at,
    )


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: PlanId | None = None
    payment_method_id: uuid.UUID | None = None


class CardIn(BaseModel):
    """A Web Payments SDK token (`source_id`) to store as a card."""

    model_config = ConfigDict(extra="forbid")

    source_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
    cardholder_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None
    ) = None
    verification_token: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    is_default: bool = False


class PaymentMethodPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_default: bool


class PaymentMethodDTO(BaseModel):
    id: uuid.UUID
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    is_default: bool
    created_at: datetime


def payment_method_dto(row: PaymentMethod) -> PaymentMethodDTO:
    return PaymentMethodDTO(
        id=row.id,
        card_brand=row.card_brand,
        card_last4=row.card_last4,
        card_exp_month=row.card_exp_month,
        card_exp_year=row.card_exp_year,
        is_default=row.is_default,
        created_at=row.created_at,
    )


class ChargeDTO(BaseModel):
    id: uuid.UUID
    amount_cents: int
    currency: str
    type: ChargeType
    status: ChargeStatus
    description: str | None
    failure_reason: str | None
    created_at: datetime
    billed_at: datetime | None


def charge_dto(row: Charge) -> ChargeDTO:
    return ChargeDTO(
        id=row.id,
        amount_cents=row.amount_cents,
        currency=row.currency,
        type=row.type,
        status=row.status,
        description=row.description,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        billed_at=row.billed_at,
    )


class CustomerRepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: uuid.UUID


class CustomerLinked(BaseModel):
    billing_customer_id: str


SimulationEvent = Literal[
    "renew", "payment_failed", "cancel_effective", "pause_effective", "resume_effective"
]


class SimulateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: SimulationEvent
