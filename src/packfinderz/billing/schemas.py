"""Billing request and response bodies (money-ads-analytics.md §1.3 to §1.8)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from pydantic.config import JsonDict

from packfinderz.kit.schemas import AsInteger
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

# Example values: the demo marketplace (`packfinderz seed --demo`, billing/seed.py), Mile High Growers.
PLAN_EXAMPLE: JsonDict = {
    "id": "starter_v1",
    "name": "Starter",
    "status": "active",
    "provider_plan_id": "sandbox-starter-monthly",
    "test": False,
    "is_default": True,
    "trial_days": 0,
    "trial_require_payment_method": False,
    "trial_start_on_activation": True,
    "interval": "EVERY_30_DAYS",
    "price_amount_cents": 9900,
    "price_amount": "99.00",
    "currency_code": "USD",
    "features": ["marketplace_visibility", "ads", "analytics"],
    "ui": {"badge": "popular", "description": "Everything a vendor needs", "bullets": ["Listed statewide"]},
    "created_at": "2026-12-07T14:46:10Z",
    "updated_at": "2026-12-07T14:46:10Z",
}
_PLAN_FIELDS_EXAMPLE: JsonDict = {
    key: PLAN_EXAMPLE[key]
    for key in (
        "name",
        "status",
        "provider_plan_id",
        "interval",
        "price_amount_cents",
        "currency_code",
        "trial_days",
        "trial_require_payment_method",
        "trial_start_on_activation",
        "test",
        "is_default",
        "features",
        "ui",
    )
}
SUBSCRIPTION_EXAMPLE: JsonDict = {
    "id": "e94b3a70-ff43-4251-b8a0-4185dff3b33a",
    "provider_subscription_id": "sbx_subscription_f93da4de74325bd25fbf",
    "status": "active",
    "price_id": "sandbox-starter-monthly",
    "billing_plan_id": "starter_v1",
    "current_period_start": "2026-12-07T00:00:00Z",
    "current_period_end": "2027-01-06T00:00:00Z",
    "cancel_at_period_end": False,
    "canceled_at": None,
    "paused_at": None,
    "pause_effective_at": None,
    "resume_effective_at": None,
}
PAYMENT_METHOD_EXAMPLE: JsonDict = {
    "id": "f89eb80e-4406-469b-9879-2d91645fac11",
    "card_brand": "VISA",
    "card_last4": "1111",
    "card_exp_month": 12,
    "card_exp_year": 2029,
    "is_default": True,
    "created_at": "2026-12-07T14:46:11Z",
}
CHARGE_EXAMPLE: JsonDict = {
    "id": "3c1f0b7a-9d2e-4f61-8a57-0e4b6c2d9f13",
    "amount_cents": 9900,
    "currency": "USD",
    "type": "subscription",
    "status": "succeeded",
    "description": "Starter, 2026-12-07 to 2027-01-06",
    "failure_reason": None,
    "created_at": "2026-12-07T14:46:12Z",
    "billed_at": "2026-12-07T14:46:12Z",
}

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=64)]


# Request integers and booleans are strict: `"9900"` and `0`/`1` for a boolean are refused as the schema says.
WholeInt = Annotated[int, AsInteger]
Text200 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)
]
Feature = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)
]


class PlanUI(BaseModel):
    """Marketing copy of a plan."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PLAN_EXAMPLE["ui"]]})

    badge: Literal["popular", "best_value", "new"] | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    bullets: list[Feature] = Field(default_factory=list, max_length=20)


class PlanFields(BaseModel):
    """The mutable fields of a plan (PATCH replaces them all)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PLAN_FIELDS_EXAMPLE]})

    name: Text200
    status: PlanStatus
    provider_plan_id: Text200
    interval: PlanInterval
    price_amount_cents: WholeInt = Field(ge=0, le=100_000_000)
    currency_code: Literal["USD"]
    trial_days: WholeInt = Field(0, ge=0, le=365)
    trial_require_payment_method: StrictBool = False
    trial_start_on_activation: StrictBool = True
    test: StrictBool = False
    is_default: StrictBool = Field(
        False, description="Only an active plan can be the default (400); true clears it on the others."
    )
    features: list[Feature] = Field(default_factory=list, max_length=50)
    ui: PlanUI = Field(default_factory=PlanUI)


class PlanIn(PlanFields):
    """A new plan: its id (`^[a-z0-9_]+$`) and the mutable fields."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "growth_v1", **_PLAN_FIELDS_EXAMPLE, "is_default": False}]}
    )

    id: PlanId


class PlanDTO(BaseModel):
    """A billing plan as vendors and admins read it."""

    model_config = ConfigDict(json_schema_extra={"examples": [PLAN_EXAMPLE]})

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
    """The store's subscription as the provider last reported it."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

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
    """Both optional: the default plan and the default card are used when omitted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"plan_id": "starter_v1", "payment_method_id": PAYMENT_METHOD_EXAMPLE["id"]}, {}]
        },
    )

    plan_id: PlanId | None = None
    payment_method_id: uuid.UUID | None = None


class CardIn(BaseModel):
    """A Web Payments SDK token (`source_id`) to store as a card."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_id": "cnon:card-nonce-ok",
                    "cardholder_name": "Mile High Growers",
                    "verification_token": None,
                    "is_default": True,
                }
            ]
        },
    )

    source_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=512)
    ]
    cardholder_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)]
        | None
    ) = None
    verification_token: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    is_default: StrictBool = False


class PaymentMethodPatch(BaseModel):
    """`true` makes the card the default (the others are cleared); `false` leaves the store without one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"is_default": True}]})

    is_default: StrictBool


class PaymentMethodDTO(BaseModel):
    """A stored card (no number: brand, last four digits, expiry)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_METHOD_EXAMPLE]})

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
    """A charge of the store (subscription renewal, ad spend)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CHARGE_EXAMPLE]})

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
    """The vendor store to link to a billing customer."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"store_id": "1a61416f-452c-427b-927d-28972e1132d1"}]}
    )

    store_id: uuid.UUID


class CustomerLinked(BaseModel):
    """The provider's customer id now on the store."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"billing_customer_id": "sbx_customer_167af80c16b73673e548"}]}
    )

    billing_customer_id: str


SimulationEvent = Literal[
    "renew", "payment_failed", "cancel_effective", "pause_effective", "resume_effective"
]


class SimulateIn(BaseModel):
    """The provider event to simulate."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"event": "renew"}]})

    event: SimulationEvent
