"""Examples of the cart and checkout models, from the demo marketplace (`packfinderz seed --demo`): Denver
Green Dispensary quotes and orders two eighths of MAC flower from Boulder Botanicals."""

from __future__ import annotations

from typing import Any

from packfinderz.kit.schemas import ADDRESS_EXAMPLE

CART: dict[str, Any] = {
    "id": "cd0195a8-828a-4699-ad37-18149e89ea20",
    "buyer_store_id": "083e64d4-b4b1-4170-b03a-178b6e36ed3e",
    "status": "active",
    "checkout_group_id": None,
    "shipping_address": ADDRESS_EXAMPLE,
    "billing_address": None,
    "payment_method": None,
    "shipping_line": None,
    "tip_cents": 0,
    "converted_at": None,
    "currency": "USD",
    "valid_until": "2026-12-07T15:08:16.197562Z",
    "subtotal_cents": 7500,
    "discounts_cents": 0,
    "total_cents": 7500,
    "ad_tokens": [],
    "created_at": "2026-12-07T14:53:16.197562Z",
    "updated_at": "2026-12-07T14:53:16.197562Z",
    "vendor_groups": [
        {
            "id": "8a31dc43-7aac-4575-a71f-e353a2029601",
            "vendor_store_id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
            "status": "ok",
            "warnings": [],
            "subtotal_cents": 7500,
            "line_discounts_cents": 0,
            "promo": None,
            "promo_discount_cents": 0,
            "discounts_cents": 0,
            "total_cents": 7500,
            "created_at": "2026-12-07T14:53:16.197562Z",
            "updated_at": "2026-12-07T14:53:16.197562Z",
        }
    ],
    "items": [
        {
            "id": "00bf285b-795c-4d1c-b67e-6e90b0232f5e",
            "product_id": "0db0e63d-7ff7-4437-99d3-e1d1bc840f4e",
            "vendor_store_id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
            "vendor_store_name": "Boulder Botanicals",
            "title": "MAC Flower 3.5g",
            "thumbnail": None,
            "unit": "eighth",
            "moq": 1,
            "max_qty": 100,
            "quantity": 2,
            "unit_price_cents": 3750,
            "effective_unit_price_cents": 3750,
            "line_subtotal_cents": 7500,
            "line_discounts_cents": 0,
            "line_total_cents": 7500,
            "applied_volume_discount": None,
            "status": "ok",
            "warnings": [],
            "created_at": "2026-12-07T14:53:16.197562Z",
            "updated_at": "2026-12-07T14:53:16.197562Z",
        }
    ],
}
_VENDOR_ORDER: dict[str, Any] = {
    "order_id": "773f4cc0-cb61-4e2c-b5dc-1740c1283ab7",
    "order_number": 1,
    "vendor_store_id": "2861e0f5-1d90-46b2-b22d-e841c6de396a",
    "status": "created_pending",
    "subtotal_cents": 7500,
    "discounts_cents": 0,
    "tax_cents": 0,
    "transport_fee_cents": 0,
    "total_cents": 7500,
    "balance_due_cents": 7500,
    "items": [
        {
            "line_item_id": "7f760fc0-1ac8-47bc-a229-e47aea42acc4",
            "product_id": "0db0e63d-7ff7-4437-99d3-e1d1bc840f4e",
            "product_name": "MAC Flower 3.5g",
            "thumbnail": None,
            "qty": 2,
            "unit": "eighth",
            "unit_price_cents": 3750,
            "discount_cents": 0,
            "total_cents": 7500,
            "status": "pending",
            "notes": None,
        }
    ],
}
CHECKOUT_RESULT: dict[str, Any] = {
    "checkout_group_id": "3b8114f2-a503-4db4-b6f4-661d095f343c",
    "shipping_address": ADDRESS_EXAMPLE,
    "billing_address": ADDRESS_EXAMPLE,
    "payment_method": "cash",
    "shipping_line": None,
    "tip_cents": 0,
    "vendor_orders": [_VENDOR_ORDER],
    "rejected_vendors": [],
}
CONFIRMATION: dict[str, Any] = {
    "checkout_group_id": "3b8114f2-a503-4db4-b6f4-661d095f343c",
    "cart_id": "cd0195a8-828a-4699-ad37-18149e89ea20",
    "vendor_orders": [
        {
            **_VENDOR_ORDER,
            "items": [
                {
                    **_VENDOR_ORDER["items"][0],
                    "category": "flower",
                    "strain": "MAC",
                    "classification": "hybrid",
                    "warnings": [],
                }
            ],
            "payment_status": "unpaid",
            "fulfillment_status": "pending",
            "shipping_status": "pending",
            "warnings": None,
            "promo": None,
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
            "active_assignment": None,
            "created_at": "2026-12-07T14:53:21.083072Z",
        }
    ],
}
