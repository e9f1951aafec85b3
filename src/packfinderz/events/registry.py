"""Event registry: event type -> topic, aggregate type and payload model (platform.md §10).

Adding an event type is a code change only: declare its payload model here with `@register`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

TOPICS = ("orders", "notifications", "billing", "analytics", "media")
Topic = Literal["orders", "notifications", "billing", "analytics", "media"]
AGGREGATE_TYPES = ("checkout_group", "vendor_order", "license", "media", "ad")


class EventPayload(BaseModel):
    """Base of every event's `data`; subclasses declare their type, topic and aggregate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[Topic]
    aggregate_type: ClassVar[str]
    aggregate_field: ClassVar[str]

    def aggregate_id(self) -> uuid.UUID:
        value = getattr(self, self.aggregate_field)
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


@dataclass(frozen=True)
class EventSpec:
    """What the registry knows of one event type."""

    event_type: str
    topic: Topic
    aggregate_type: str
    model: type[EventPayload]


REGISTRY: dict[str, EventSpec] = {}


class UnknownEventType(LookupError):
    """Raised for an event type that is not registered (a programming error)."""


def register(event_type: str, topic: Topic, aggregate_type: str, aggregate_field: str) -> Any:
    """Class decorator adding a payload model to the registry."""
    if topic not in TOPICS or aggregate_type not in AGGREGATE_TYPES:
        raise ValueError(f"bad topic or aggregate for {event_type}")

    def decorate(cls: type[EventPayload]) -> type[EventPayload]:
        if event_type in REGISTRY:
            raise ValueError(f"event type registered twice: {event_type}")
        if aggregate_field not in cls.model_fields:
            raise ValueError(f"{event_type}: aggregate field {aggregate_field} missing")
        cls.event_type = event_type
        cls.topic = topic
        cls.aggregate_type = aggregate_type
        cls.aggregate_field = aggregate_field
        REGISTRY[event_type] = EventSpec(event_type, topic, aggregate_type, cls)
        return cls

    return decorate


def lookup(event_type: str) -> EventSpec:
    """The spec of a registered event type; UnknownEventType otherwise."""
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


# --- payload models ------------------------------------------------------------------------------


class OrderIds(EventPayload):
    """The ids every order event carries."""

    order_id: uuid.UUID
    checkout_group_id: uuid.UUID
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID


@register("order_created", "orders", "checkout_group", "checkout_group_id")
class OrderCreated(EventPayload):
    checkout_group_id: uuid.UUID
    vendor_order_ids: list[uuid.UUID]


@register("checkout_converted", "notifications", "checkout_group", "checkout_group_id")
class CheckoutConverted(EventPayload):
    checkout_group_id: uuid.UUID
    cart_id: uuid.UUID | None = None
    buyer_store_id: uuid.UUID
    vendor_order_ids: list[uuid.UUID]
    vendor_store_ids: list[uuid.UUID]
    converted_at: datetime
    analytics: dict[str, Any]


@register("order_decided", "orders", "vendor_order", "order_id")
class OrderDecided(OrderIds):
    decision: Literal["accept", "reject"]
    status: str


@register("order_ready_for_dispatch", "orders", "vendor_order", "order_id")
class OrderReadyForDispatch(OrderIds):
    vendor_store_ids: list[uuid.UUID]
    fulfillment_status: str
    shipping_status: str
    rejected_item_count: int
    resolved_line_item_id: uuid.UUID | None = None


@register("order_canceled", "orders", "vendor_order", "order_id")
class OrderCanceled(OrderIds):
    canceled_at: datetime
    reason: str | None = None


@register("order_expired", "orders", "vendor_order", "order_id")
class OrderExpired(OrderIds):
    expired_at: datetime
    ttl_days: int


@register("order_pending_nudge", "orders", "vendor_order", "order_id")
class OrderPendingNudge(OrderIds):
    pending_days: int


@register("notification_requested", "notifications", "vendor_order", "order_id")
class NotificationRequested(OrderIds):
    type: Literal["order_nudge"] = "order_nudge"


@register("order_retried", "orders", "vendor_order", "order_id")
class OrderRetried(OrderIds):
    original_order_id: uuid.UUID


@register("cash_collected", "orders", "vendor_order", "order_id")
class CashCollected(EventPayload):
    order_id: uuid.UUID
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID
    amount_cents: int
    cash_collected_at: datetime


@register("payment_failed", "orders", "vendor_order", "order_id")
class PaymentFailed(EventPayload):
    order_id: uuid.UUID
    payment_intent_id: uuid.UUID
    failure_reason: str | None = None


@register("order_paid", "billing", "vendor_order", "order_id")
class OrderPaid(EventPayload):
    order_id: uuid.UUID
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID
    payment_intent_id: uuid.UUID
    amount_cents: int
    vendor_paid_at: datetime


@register("license_status_changed", "notifications", "license", "license_id")
class LicenseStatusChanged(EventPayload):
    license_id: uuid.UUID
    store_id: uuid.UUID
    status: str
    reason: str | None = None


@register("license_expiring_soon", "notifications", "license", "license_id")
class LicenseExpiringSoon(EventPayload):
    license_id: uuid.UUID
    store_id: uuid.UUID
    expiration_date: date
    days_until_expiration: int


@register("license_expired", "notifications", "license", "license_id")
class LicenseExpired(EventPayload):
    license_id: uuid.UUID
    store_id: uuid.UUID
    expiration_date: date
    expired_at: datetime


@register("media_deleted", "media", "media", "media_id")
class MediaDeleted(EventPayload):
    media_id: uuid.UUID
    store_id: uuid.UUID
    storage_key: str


@register("ad_daily_rollup_ready", "analytics", "ad", "ad_id")
class AdDailyRollupReady(EventPayload):
    ad_id: uuid.UUID
    vendor_store_id: uuid.UUID
    day: date
    impressions: int
    clicks: int
    spend_cents: int
