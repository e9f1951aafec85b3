"""Examples of the order models, from the demo marketplace (`packfinderz seed --demo`): Denver Green
Dispensary's order of two eighths of MAC flower from Boulder Botanicals."""

from __future__ import annotations

from typing import Any

from packfinderz.kit.schemas import ADDRESS_EXAMPLE

ORDER_DETAIL: dict[str, Any] = {
    "order": {
        "id": "773f4cc0-cb61-4e2c-b5dc-1740c1283ab7",
        "checkout_group_id": "3b8114f2-a503-4db4-b6f4-661d095f343c",
        "buyer_store_id": "083e64d4-b4b1-4170-b03a-178b6e36ed3e",
        "vendor_store_id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
        "order_number": 1,
        "status": "created_pending",
        "refund_status": "none",
        "fulfillment_status": "pending",
        "shipping_status": "pending",
        "currency": "USD",
        "shipping_address": ADDRESS_EXAMPLE,  # the buyer's own address (the checkout's default)
        "payment_method": "cash",
        "shipping_line": None,
        "warnings": [],
        "promo": None,
        "subtotal_cents": 7500,
        "discounts_cents": 0,
        "tax_cents": 0,
        "transport_fee_cents": 0,
        "total_cents": 7500,
        "balance_due_cents": 7500,
        "retry_of_order_id": None,
        "manifest_media_id": None,
        "manifest_generated_at": None,
        "ready_at": None,
        "fulfilled_at": None,
        "delivered_at": None,
        "canceled_at": None,
        "expired_at": None,
        "closed_at": None,
        "created_at": "2026-12-07T14:53:21.083072Z",
        "updated_at": "2026-12-07T14:53:21.083072Z",
    },
    "line_items": [
        {
            "id": "7f760fc0-1ac8-47bc-a229-e47aea42acc4",
            "order_id": "773f4cc0-cb61-4e2c-b5dc-1740c1283ab7",
            "product_id": "0db0e63d-7ff7-4437-99d3-e1d1bc840f4e",
            "position": 0,
            "name": "MAC Flower 3.5g",
            "sku": "D02-000010",
            "category": "flower",
            "strain": "MAC",
            "classification": "hybrid",
            "unit": "eighth",
            "thumbnail": None,
            "moq": 1,
            "max_qty": 100,
            "unit_price_cents": 3750,
            "qty": 2,
            "discount_cents": 0,
            "line_subtotal_cents": 7500,
            "total_cents": 7500,
            "warnings": [],
            "applied_volume_discount": None,
            "status": "pending",
            "notes": None,
            "created_at": "2026-12-07T14:53:21.083072Z",
            "updated_at": "2026-12-07T14:53:21.083072Z",
        }
    ],
    "payment_intent": {
        "id": "566312a6-42a2-4208-8b0c-dad1e38ee9e3",
        "method": "cash",
        "status": "unpaid",
        "amount_cents": 7500,
        "cash_collected_at": None,
        "vendor_paid_at": None,
        "failure_reason": None,
        "created_at": "2026-12-07T14:53:21.083072Z",
        "updated_at": "2026-12-07T14:53:21.083072Z",
    },
    "buyer_store": {
        "id": "083e64d4-b4b1-4170-b03a-178b6e36ed3e",
        "company_name": "Denver Green Dispensary",
        "dba_name": None,
        "logo_url": None,
        "address": ADDRESS_EXAMPLE,
        "phone": None,
    },
    "vendor_store": {
        "id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
        "company_name": "Boulder Botanicals",
        "dba_name": None,
        "logo_url": None,
        "address": {
            "line1": "1 Main St",
            "line2": None,
            "city": "Boulder",
            "state": "CO",
            "postal_code": "80202",
            "country": "US",
            "lat": 40.015,
            "lng": -105.2705,
        },
        "phone": None,
    },
    "active_assignment": None,
    "manifest": None,
}
ORDER_ID = ORDER_DETAIL["order"]["id"]
BUYER_CARD: dict[str, Any] = {
    k: ORDER_DETAIL["buyer_store"][k] for k in ("id", "company_name", "dba_name", "logo_url")
}
VENDOR_CARD: dict[str, Any] = {
    k: ORDER_DETAIL["vendor_store"][k] for k in ("id", "company_name", "dba_name", "logo_url")
}
SUMMARY: dict[str, Any] = {
    k: v
    for k, v in {
        "id": "773f4cc0-cb61-4e2c-b5dc-1740c1283ab7",
        "order_number": 1,
        "created_at": "2026-12-07T14:53:21.083072Z",
        "status": "created_pending",
        "total_cents": 7500,
        "discounts_cents": 0,
        "total_items": 2,
        "payment_status": "unpaid",
        "fulfillment_status": "pending",
        "shipping_status": "pending",
        "vendor": {
            "id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
            "company_name": "Boulder Botanicals",
            "dba_name": None,
            "logo_url": None,
        },
    }.items()
    if k != "vendor"
}
BUYER_SUMMARY = {**SUMMARY, "vendor": VENDOR_CARD}
VENDOR_SUMMARY = {**SUMMARY, "buyer": BUYER_CARD}
AGENT_SUMMARY = {
    **SUMMARY,
    "status": "ready_for_dispatch",
    "fulfillment_status": "fulfilled",
    "buyer": {**BUYER_CARD, "address": ORDER_DETAIL["buyer_store"]["address"]},
    "vendor": {**VENDOR_CARD, "address": ORDER_DETAIL["vendor_store"]["address"]},
}
PAYMENT_INTENT: dict[str, Any] = ORDER_DETAIL["payment_intent"]
ACTION_RESULT: dict[str, Any] = {
    "order_id": ORDER_ID,
    "status": "accepted",
    "payment_status": "unpaid",
    "fulfillment_status": "pending",
    "shipping_status": "pending",
    "balance_due_cents": 7500,
}
ASSIGNMENT: dict[str, Any] = {
    "id": "5a0c2f4e-8d7b-4c61-9a3e-2b1f0e9d8c7a",
    "order_id": "773f4cc0-cb61-4e2c-b5dc-1740c1283ab7",
    "agent_user_id": "e35e8346-6b16-4c16-9fa7-587b86bfe27b",
    "source": "claim",
    "assigned_by_user_id": None,
    "active": True,
    "assigned_at": "2026-12-07T15:20:00Z",
    "unassigned_at": None,
    "pickup_time": None,
    "delivery_time": None,
    "cash_pickup_time": None,
    "agent": {"user_id": "e35e8346-6b16-4c16-9fa7-587b86bfe27b", "first_name": "Dana", "last_name": "Driver"},
}
MANIFEST: dict[str, Any] = {
    "order_id": ORDER_ID,
    "media_id": "9d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4",
    "generated_at": "2026-12-07T15:10:00Z",
    "file_name": "manifest-1.pdf",
    "download_url": "http://localhost:8080/storage/private/9d2b7c1e-3f4a-4b5c-8d6e-7f8091a2b3c4?sig=...",
    "expires_at": "2026-12-07T15:25:00Z",
}
