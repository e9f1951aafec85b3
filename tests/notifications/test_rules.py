"""Every row of the notifications table of platform.md §11.2, as a pure function of event + facts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from packfinderz.events import registry as ev
from packfinderz.notifications.rules import (
    ADMINS,
    HANDLED_TYPES,
    Facts,
    LicenseFacts,
    Notice,
    OrderFacts,
    needed_ids,
    notice_id,
    plan,
)

BUYER, VENDOR = uuid.uuid4(), uuid.uuid4()
ORDER, LICENSE, STORE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def order_ids() -> dict[str, uuid.UUID]:
    return {
        "order_id": ORDER,
        "checkout_group_id": uuid.uuid4(),
        "buyer_store_id": BUYER,
        "vendor_store_id": VENDOR,
    }


def facts(status: str = "created_pending") -> Facts:
    return Facts(
        licenses={LICENSE: LicenseFacts(number="OK-123", store_id=STORE)},
        orders={ORDER: OrderFacts(ORDER, 1042, BUYER, VENDOR, status)},
        store_names={BUYER: "Buyer Shop", VENDOR: "Vendor Farms", STORE: "Licensed Store"},
    )


def vendor(title: str, message: str) -> Notice:
    return Notice(VENDOR, "order_alert", title, message, f"/vendor/orders/{ORDER}")


def buyer(title: str, message: str) -> Notice:
    return Notice(BUYER, "order_alert", title, message, f"/orders/{ORDER}")


CASES: list[tuple[ev.EventPayload, list[Notice]]] = [
    (
        ev.LicenseStatusChanged(license_id=LICENSE, store_id=STORE, status="pending"),
        [
            Notice(
                ADMINS,
                "compliance",
                "License awaiting review",
                "Licensed Store submitted license OK-123 for review.",
                f"/admin/licenses/{LICENSE}",
            ),
            Notice(
                STORE,
                "compliance",
                "License submitted for review",
                "License OK-123 was submitted and awaits review.",
                f"/licenses/{LICENSE}",
            ),
        ],
    ),
    (
        ev.LicenseStatusChanged(license_id=LICENSE, store_id=STORE, status="verified"),
        [
            Notice(
                STORE,
                "compliance",
                "License approved",
                "License OK-123 was approved.",
                f"/licenses/{LICENSE}",
            )
        ],
    ),
    (
        ev.LicenseStatusChanged(license_id=LICENSE, store_id=STORE, status="rejected", reason="blurry scan"),
        [
            Notice(
                STORE,
                "compliance",
                "License rejected",
                "License OK-123 was rejected: blurry scan",
                f"/licenses/{LICENSE}",
            )
        ],
    ),
    (ev.LicenseStatusChanged(license_id=LICENSE, store_id=STORE, status="expired"), []),
    (
        ev.LicenseExpiringSoon(
            license_id=LICENSE, store_id=STORE, expiration_date=date(2026, 12, 5), days_until_expiration=10
        ),
        [
            Notice(
                STORE,
                "compliance",
                "License expiring soon",
                "License OK-123 expires on 2026-12-05 (10 days left). "
                "Upload a renewed license to stay verified.",
                f"/licenses/{LICENSE}",
            )
        ],
    ),
    (
        ev.LicenseExpired(
            license_id=LICENSE, store_id=STORE, expiration_date=date(2026, 11, 24), expired_at=NOW
        ),
        [
            Notice(
                STORE,
                "compliance",
                "License expired",
                "License OK-123 expired on 2026-11-24.",
                f"/licenses/{LICENSE}",
            )
        ],
    ),
    (
        ev.OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[ORDER]),
        [vendor("New order", "New order #1042 from Buyer Shop.")],
    ),
    (
        ev.OrderRetried(**order_ids(), original_order_id=uuid.uuid4()),
        [vendor("Order resubmitted", "Buyer Shop resubmitted order #1042.")],
    ),
    (
        ev.OrderPendingNudge(**order_ids(), pending_days=5),
        [
            vendor(
                "Order awaits your decision",
                "Order #1042 from Buyer Shop has waited 5 days for your decision.",
            )
        ],
    ),
    (
        ev.NotificationRequested(**order_ids()),
        [vendor("Order awaits your decision", "Buyer Shop is waiting for your decision on order #1042.")],
    ),
    (
        ev.OrderCanceled(**order_ids(), canceled_at=NOW, reason="ordered {twice}"),
        [vendor("Order canceled by buyer", "Buyer Shop canceled order #1042. Reason: ordered {twice}")],
    ),
    (
        ev.OrderDecided(**order_ids(), decision="accept", status="accepted"),
        [buyer("Order accepted", "Vendor Farms accepted order #1042.")],
    ),
    (
        ev.OrderDecided(**order_ids(), decision="accept", status="partially_accepted"),
        [buyer("Order partially accepted", "Vendor Farms partially accepted order #1042.")],
    ),
    (
        ev.OrderDecided(**order_ids(), decision="reject", status="rejected"),
        [buyer("Order rejected", "Vendor Farms rejected order #1042.")],
    ),
    (
        ev.OrderReadyForDispatch(
            **order_ids(),
            vendor_store_ids=[VENDOR],
            fulfillment_status="ready",
            shipping_status="pending",
            rejected_item_count=0,
        ),
        [buyer("Order ready for dispatch", "Order #1042 from Vendor Farms is ready for dispatch.")],
    ),
    (
        ev.OrderExpired(**order_ids(), expired_at=NOW, ttl_days=10),
        [
            buyer("Order expired", "Order #1042 expired after 10 days without a decision."),
            vendor("Order expired", "Order #1042 expired after 10 days without a decision."),
        ],
    ),
    (
        ev.PaymentFailed(
            order_id=ORDER, payment_intent_id=uuid.uuid4(), failure_reason="collected 90.00 of 100.00"
        ),
        [
            Notice(
                ADMINS,
                "order_alert",
                "Cash collection mismatch",
                "Cash collected for order #1042 does not match: collected 90.00 of 100.00",
                f"/admin/orders/{ORDER}",
            )
        ],
    ),
    (
        ev.OrderPaid(
            order_id=ORDER,
            buyer_store_id=BUYER,
            vendor_store_id=VENDOR,
            payment_intent_id=uuid.uuid4(),
            amount_cents=123456,
            vendor_paid_at=NOW,
        ),
        [vendor("Payout confirmed", "Payout of $1,234.56 for order #1042 was confirmed.")],
    ),
]


@pytest.mark.parametrize(
    ("event", "expected"), CASES, ids=[f"{e.event_type}-{i}" for i, (e, _) in enumerate(CASES)]
)
def test_event_to_notices(event: ev.EventPayload, expected: list[Notice]) -> None:
    result = plan(event, facts())
    assert result.missing == []
    assert result.notices == expected


def test_every_handled_type_has_a_case() -> None:
    assert {event.event_type for event, _ in CASES} == HANDLED_TYPES


def test_admin_notices_never_target_a_store() -> None:
    for event, _ in CASES:
        for notice in plan(event, facts()).notices:
            if event.event_type == "payment_failed":
                assert notice.recipient == ADMINS


def test_rejected_vendor_orders_of_a_checkout_get_no_new_order_notice() -> None:
    event = ev.OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[ORDER])
    assert plan(event, facts(status="rejected")).notices == []


def test_missing_rows_mean_no_notice_and_are_reported() -> None:
    empty = Facts()
    license_event = ev.LicenseStatusChanged(license_id=LICENSE, store_id=STORE, status="pending")
    assert plan(license_event, empty).notices == []
    assert plan(license_event, empty).missing == [f"license {LICENSE}"]
    order_event = ev.OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[ORDER, uuid.uuid4()])
    found = Facts(orders=facts().orders, store_names={})
    result = plan(order_event, found)
    assert result.notices == []
    assert len(result.missing) == 2
    assert f"store {BUYER}" in result.missing


def test_needed_ids_and_deterministic_notice_ids() -> None:
    assert needed_ids(
        ev.LicenseExpired(
            license_id=LICENSE, store_id=STORE, expiration_date=date(2026, 1, 1), expired_at=NOW
        )
    ) == ({LICENSE}, set())
    assert needed_ids(ev.OrderCreated(checkout_group_id=uuid.uuid4(), vendor_order_ids=[ORDER])) == (
        set(),
        {ORDER},
    )
    assert needed_ids(ev.PaymentFailed(order_id=ORDER, payment_intent_id=uuid.uuid4())) == (set(), {ORDER})
    event_id = uuid.uuid4()
    assert notice_id(event_id, STORE) == uuid.uuid5(event_id, str(STORE)) == notice_id(event_id, STORE)
    assert notice_id(event_id, ADMINS) == uuid.uuid5(event_id, "admins")
    assert notice_id(event_id, STORE) != notice_id(event_id, ADMINS)
