"""Which event produces which notice for whom (platform.md §11.2, identity.md §12).

Pure functions: the consumer gathers the facts (license and order numbers, store names) from
Postgres and `plan` turns an event plus those facts into notices. A notice whose facts are missing
is not written; its description goes into `Plan.missing` so the consumer can warn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from packfinderz.events import registry as ev

ADMINS: Final = "admins"
Recipient = uuid.UUID | Literal["admins"]

# Every event type the notifications consumer reacts to.
HANDLED_TYPES = frozenset(
    {
        "license_status_changed",
        "license_expiring_soon",
        "license_expired",
        "order_created",
        "order_retried",
        "order_pending_nudge",
        "notification_requested",
        "order_canceled",
        "order_decided",
        "order_ready_for_dispatch",
        "order_expired",
        "payment_failed",
        "order_paid",
    }
)


@dataclass(frozen=True)
class LicenseFacts:
    number: str
    store_id: uuid.UUID


@dataclass(frozen=True)
class OrderFacts:
    id: uuid.UUID
    order_number: int
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID
    status: str


@dataclass
class Facts:
    """What was found in Postgres; absent keys mean the row does not exist (yet, or any more)."""

    licenses: dict[uuid.UUID, LicenseFacts] = field(default_factory=dict)
    orders: dict[uuid.UUID, OrderFacts] = field(default_factory=dict)
    store_names: dict[uuid.UUID, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """One notice for a store inbox (recipient = store id) or the admin inbox (recipient = admins)."""

    recipient: Recipient
    type: Literal["order_alert", "compliance"]
    title: str
    message: str
    link: str | None


@dataclass
class Plan:
    notices: list[Notice] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def needed_ids(data: ev.EventPayload) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(license ids, order ids) whose rows the notices of this event read."""
    if isinstance(data, ev.LicenseStatusChanged | ev.LicenseExpiringSoon | ev.LicenseExpired):
        return {data.license_id}, set()
    if isinstance(data, ev.OrderCreated):
        return set(), set(data.vendor_order_ids)
    order_id = getattr(data, "order_id", None)
    return set(), ({order_id} if isinstance(order_id, uuid.UUID) else set())


def plan(data: ev.EventPayload, facts: Facts) -> Plan:
    """The notices an event produces, given the facts read from Postgres."""
    result = Plan()
    if isinstance(data, ev.LicenseStatusChanged | ev.LicenseExpiringSoon | ev.LicenseExpired):
        _license_notices(data, facts, result)
    elif isinstance(data, ev.OrderCreated):
        for order_id in data.vendor_order_ids:
            order = facts.orders.get(order_id)
            if order is None:
                result.missing.append(f"vendor_order {order_id}")
            elif order.status != "rejected":
                _vendor_notice(result, facts, order, "New order", "New order #{n} from {buyer}.")
    else:
        _order_notices(data, facts, result)
    return result


def _license_notices(
    data: ev.LicenseStatusChanged | ev.LicenseExpiringSoon | ev.LicenseExpired, facts: Facts, result: Plan
) -> None:
    license_ = facts.licenses.get(data.license_id)
    if license_ is None:
        result.missing.append(f"license {data.license_id}")
        return
    link = f"/licenses/{data.license_id}"
    number = license_.number
    if isinstance(data, ev.LicenseExpiringSoon):
        days = data.days_until_expiration
        title, message = (
            "License expiring soon",
            f"License {number} expires on {_day(data.expiration_date)} "
            f"({days} day{'s' if days != 1 else ''} left). Upload a renewed license to stay verified.",
        )
    elif isinstance(data, ev.LicenseExpired):
        title, message = "License expired", f"License {number} expired on {_day(data.expiration_date)}."
    elif data.status == "pending":
        title, message = "License submitted for review", f"License {number} was submitted and awaits review."
        store_name = facts.store_names.get(data.store_id)
        if store_name is None:
            result.missing.append(f"store {data.store_id}")
        else:
            result.notices.append(
                Notice(
                    ADMINS,
                    "compliance",
                    "License awaiting review",
                    f"{store_name} submitted license {number} for review.",
                    f"/admin/licenses/{data.license_id}",
                )
            )
    elif data.status == "verified":
        title, message = "License approved", f"License {number} was approved."
    elif data.status == "rejected":
        reason = f": {data.reason}" if data.reason else "."
        title, message = "License rejected", f"License {number} was rejected{reason}"
    else:
        return
    result.notices.append(Notice(data.store_id, "compliance", title, message, link))


def _order_notices(data: ev.EventPayload, facts: Facts, result: Plan) -> None:
    order_id: uuid.UUID = data.order_id  # type: ignore[attr-defined]
    order = facts.orders.get(order_id)
    if order is None:
        result.missing.append(f"vendor_order {order_id}")
        return
    n = order.order_number
    if isinstance(data, ev.OrderRetried):
        _vendor_notice(result, facts, order, "Order resubmitted", "{buyer} resubmitted order #{n}.")
    elif isinstance(data, ev.OrderPendingNudge):
        text = f"Order #{{n}} from {{buyer}} has waited {data.pending_days} days for your decision."
        _vendor_notice(result, facts, order, "Order awaits your decision", text)
    elif isinstance(data, ev.NotificationRequested):
        text = "{buyer} is waiting for your decision on order #{n}."
        _vendor_notice(result, facts, order, "Order awaits your decision", text)
    elif isinstance(data, ev.OrderCanceled):
        reason = f" Reason: {data.reason}" if data.reason else ""
        text = "{buyer} canceled order #{n}." + reason.replace("{", "{{").replace("}", "}}")
        _vendor_notice(result, facts, order, "Order canceled by buyer", text)
    elif isinstance(data, ev.OrderPaid):
        text = f"Payout of {_money(data.amount_cents)} for order #{{n}} was confirmed."
        _vendor_notice(result, facts, order, "Payout confirmed", text)
    elif isinstance(data, ev.OrderDecided):
        if data.decision == "reject":
            title, verb = "Order rejected", "rejected"
        elif data.status == "partially_accepted":
            title, verb = "Order partially accepted", "partially accepted"
        else:
            title, verb = "Order accepted", "accepted"
        _buyer_notice(result, facts, order, title, f"{{vendor}} {verb} order #{{n}}.")
    elif isinstance(data, ev.OrderReadyForDispatch):
        text = "Order #{n} from {vendor} is ready for dispatch."
        _buyer_notice(result, facts, order, "Order ready for dispatch", text)
    elif isinstance(data, ev.OrderExpired):
        text = f"Order #{{n}} expired after {data.ttl_days} days without a decision."
        _buyer_notice(result, facts, order, "Order expired", text)
        _vendor_notice(result, facts, order, "Order expired", text)
    elif isinstance(data, ev.PaymentFailed):
        reason = f": {data.failure_reason}" if data.failure_reason else "."
        result.notices.append(
            Notice(
                ADMINS,
                "order_alert",
                "Cash collection mismatch",
                f"Cash collected for order #{n} does not match{reason}",
                f"/admin/orders/{order_id}",
            )
        )


def _vendor_notice(result: Plan, facts: Facts, order: OrderFacts, title: str, template: str) -> None:
    buyer = facts.store_names.get(order.buyer_store_id)
    if buyer is None and "{buyer}" in template:
        result.missing.append(f"store {order.buyer_store_id}")
        return
    message = template.format(n=order.order_number, buyer=buyer)
    result.notices.append(
        Notice(order.vendor_store_id, "order_alert", title, message, f"/vendor/orders/{order.id}")
    )


def _buyer_notice(result: Plan, facts: Facts, order: OrderFacts, title: str, template: str) -> None:
    vendor = facts.store_names.get(order.vendor_store_id)
    if vendor is None and "{vendor}" in template:
        result.missing.append(f"store {order.vendor_store_id}")
        return
    message = template.format(n=order.order_number, vendor=vendor)
    result.notices.append(Notice(order.buyer_store_id, "order_alert", title, message, f"/orders/{order.id}"))


def _day(value: date) -> str:
    return value.isoformat()


def _money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def notice_id(event_id: uuid.UUID, recipient: Recipient) -> uuid.UUID:
    """Deterministic id: uuid5(event_id, recipient store id | "admins"), so a re-run inserts nothing."""
    return uuid.uuid5(event_id, str(recipient))
