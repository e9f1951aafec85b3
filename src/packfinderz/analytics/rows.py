"""Warehouse rows of each event (money-ads-analytics.md §3.2), with their deterministic event ids.

The same functions serve the consumer and the backfill, so both write identical rows and a row written
twice is the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import jwt

from packfinderz.kit.warehouse.base import Row

# Namespace of ids that depend on no envelope (charge rows; backfilled rows whose event is gone).
NS = uuid.UUID("5b0f7a52-3c2e-4d1a-9a51-6f1f2f1e7a15")
TERMINAL_TYPES = frozenset({"order_canceled", "order_expired"})
REVENUE_TYPES = frozenset({"cash_collected", "order_paid"})


@dataclass(frozen=True)
class Attribution:
    """What a conversion row needs from an ad token (signature checked, expiry ignored)."""

    token_id: uuid.UUID
    ad_id: uuid.UUID
    creative_id: uuid.UUID | None
    placement: str | None
    target_type: str | None
    target_id: uuid.UUID | None
    event_type: str | None


def attribution(raw: str | None, secret: str) -> Attribution | None:
    """The token's ad when we signed it; None for no token, a bad signature or missing ids.

    Expiry is ignored on purpose: the token was valid when checkout attributed the order, and the
    consumer may read the event after the token's 30 days."""
    if not raw:
        return None
    try:
        claims = jwt.decode(raw, secret, algorithms=["HS256"], options={"verify_exp": False})
        token_id = uuid.UUID(str(claims["token_id"]))
        ad_id = uuid.UUID(str(claims["ad_id"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None

    def opt_uuid(key: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(claims[key]))
        except (KeyError, ValueError):
            return None

    def opt_text(key: str) -> str | None:
        value = claims.get(key)
        return value if isinstance(value, str) else None

    return Attribution(
        token_id=token_id,
        ad_id=ad_id,
        creative_id=opt_uuid("creative_id"),
        placement=opt_text("placement"),
        target_type=opt_text("target_type"),
        target_id=opt_uuid("target_id"),
        event_type=opt_text("event_type"),
    )


def order_event_id(namespace: uuid.UUID, order_id: uuid.UUID | str) -> uuid.UUID:
    """`order_created` row id: uuid5(envelope event_id, "order:<order_id>")."""
    return uuid.uuid5(namespace, f"order:{order_id}")


def conversion_event_id(namespace: uuid.UUID, order_id: uuid.UUID | str, token_id: uuid.UUID) -> uuid.UUID:
    """`conversion` row id: uuid5(envelope event_id, "conv:<order_id>:<token_id>")."""
    return uuid.uuid5(namespace, f"conv:{order_id}:{token_id}")


def charge_event_id(ad_id: uuid.UUID | str, day: date) -> uuid.UUID:
    """`charge` row id: uuid5(NS, "charge:<ad_id>:<YYYY-MM-DD>"), one per ad and day."""
    return uuid.uuid5(NS, f"charge:{ad_id}:{day.isoformat()}")


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value in (None, "") else uuid.UUID(str(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _place(address: Mapping[str, Any] | None) -> dict[str, Any]:
    address = address or {}
    return {
        "buyer_zip": address.get("postal_code") or None,
        "buyer_lat": _float(address.get("lat")),
        "buyer_lng": _float(address.get("lng")),
    }


def _live(item: Mapping[str, Any]) -> bool:
    return item.get("status") != "rejected"


def order_created_row(
    event_id: uuid.UUID,
    occurred_at: datetime,
    order: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    *,
    checkout_group_id: uuid.UUID,
    buyer_store_id: uuid.UUID,
    shipping_address: Mapping[str, Any] | None,
    secret: str,
) -> Row:
    """The `order_created` row of one vendor order: `order` is the analytics slice's vendor order and
    `items` its items (`name`, `ad_token`, … as in `checkout_converted.analytics`)."""
    ad = attribution(order.get("ad_token"), secret)
    total = int(order["total_cents"])
    row_items = []
    for item in items:
        line_ad = attribution(item.get("ad_token"), secret)
        row_items.append(
            {
                "product_id": item.get("product_id") and str(item["product_id"]),
                "title": item.get("name"),
                "category": item.get("category"),
                "classification": item.get("classification"),
                "qty": item.get("qty"),
                "moq": item.get("moq"),
                "max_qty": item.get("max_qty"),
                "unit_price_cents": item.get("unit_price_cents"),
                "line_subtotal_cents": item.get("line_subtotal_cents"),
                "line_total_cents": item.get("line_total_cents"),
                "discount_cents": item.get("discount_cents"),
                "status": item.get("status"),
                "warnings": item.get("warnings") or [],
                "attributed_ad_id": str(line_ad.ad_id) if line_ad else None,
            }
        )
    live = [i for i in items if _live(i)]
    payload = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in order.items() if k != "ad_token"}
    return {
        "event_id": event_id,
        "event_type": "order_created",
        "occurred_at": occurred_at,
        "checkout_group_id": checkout_group_id,
        "order_id": _uuid(order["order_id"]),
        "buyer_store_id": buyer_store_id,
        "vendor_store_id": _uuid(order["vendor_store_id"]),
        "attributed_ad_id": ad.ad_id if ad else None,
        **_place(shipping_address),
        "subtotal_cents": sum(int(i.get("line_subtotal_cents") or 0) for i in live),
        "discounts_cents": sum(int(i.get("discount_cents") or 0) for i in live),
        "tax_cents": 0,
        "transport_fee_cents": 0,
        "gross_revenue_cents": total,
        "refund_cents": 0,
        "net_revenue_cents": total,
        "items": row_items,
        "payload": payload,
    }


def conversion_rows(
    namespace: uuid.UUID,
    occurred_at: datetime,
    order: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    *,
    checkout_group_id: uuid.UUID,
    buyer_store_id: uuid.UUID,
    shipping_address: Mapping[str, Any] | None,
    secret: str,
) -> list[Row]:
    """One `conversion` per attributed token of a placed order: the order's store token (revenue = the
    order total) and each live line's product token (revenue = the line total)."""
    if order.get("status") == "rejected":
        return []
    order_id = _uuid(order["order_id"])
    assert order_id is not None
    found: list[tuple[Attribution, int]] = []
    store_ad = attribution(order.get("ad_token"), secret)
    if store_ad:
        found.append((store_ad, int(order["total_cents"])))
    for item in items:
        line_ad = attribution(item.get("ad_token"), secret)
        if line_ad and _live(item):
            found.append((line_ad, int(item.get("line_total_cents") or 0)))
    rows = []
    for ad, revenue in found:
        rows.append(
            {
                "event_id": conversion_event_id(namespace, order_id, ad.token_id),
                "occurred_at": occurred_at,
                "type": "conversion",
                "ad_id": ad.ad_id,
                "vendor_store_id": _uuid(order["vendor_store_id"]),
                "buyer_store_id": buyer_store_id,
                "attributed_order_id": order_id,
                "cost_cents": 0,
                "revenue_cents": revenue,
                **_place(shipping_address),
                "payload": {
                    "checkout_group_id": str(checkout_group_id),
                    "target_type": ad.target_type,
                    "target_id": ad.target_id and str(ad.target_id),
                    "token_id": str(ad.token_id),
                    "creative_id": ad.creative_id and str(ad.creative_id),
                    "placement": ad.placement,
                    "token_event_type": ad.event_type,
                },
            }
        )
    return rows


def revenue_row(
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    *,
    order_id: uuid.UUID,
    buyer_store_id: uuid.UUID,
    vendor_store_id: uuid.UUID,
    amount_cents: int,
    checkout_group_id: uuid.UUID | None = None,
    payload: Mapping[str, Any] | None = None,
) -> Row:
    """A `cash_collected` / `order_paid` row: gross = net = the amount, no refund."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "checkout_group_id": checkout_group_id,
        "order_id": order_id,
        "buyer_store_id": buyer_store_id,
        "vendor_store_id": vendor_store_id,
        "gross_revenue_cents": amount_cents,
        "refund_cents": 0,
        "net_revenue_cents": amount_cents,
        "payload": dict(payload or {}),
    }


def termination_row(
    event_id: uuid.UUID,
    event_type: str,
    occurred_at: datetime,
    *,
    order_id: uuid.UUID,
    buyer_store_id: uuid.UUID,
    vendor_store_id: uuid.UUID,
    checkout_group_id: uuid.UUID | None = None,
    payload: Mapping[str, Any] | None = None,
) -> Row:
    """An `order_canceled` / `order_expired` row: ids and time only, no money, no items."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "checkout_group_id": checkout_group_id,
        "order_id": order_id,
        "buyer_store_id": buyer_store_id,
        "vendor_store_id": vendor_store_id,
        "items": None,
        "payload": dict(payload or {}),
    }


def charge_row(
    ad_id: uuid.UUID,
    vendor_store_id: uuid.UUID,
    day: date,
    *,
    impressions: int,
    clicks: int,
    spend_cents: int,
) -> Row:
    """The `charge` row of an ad's rolled-up day, at the end of that UTC day."""
    return {
        "event_id": charge_event_id(ad_id, day),
        "occurred_at": datetime.combine(day, time.max, UTC),
        "type": "charge",
        "ad_id": ad_id,
        "vendor_store_id": vendor_store_id,
        "cost_cents": spend_cents,
        "revenue_cents": 0,
        "payload": {"day": day.isoformat(), "impressions": impressions, "clicks": clicks},
    }
