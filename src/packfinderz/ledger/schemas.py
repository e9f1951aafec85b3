"""Payout queue models (commerce.md §10)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from packfinderz.orders.examples import ORDER_DETAIL, ORDER_ID


class PayoutItem(BaseModel):
    """A delivered order whose cash was collected and whose vendor is not paid yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": ORDER_ID,
                    "order_number": 1,
                    "vendor_store_id": ORDER_DETAIL["order"]["vendor_store_id"],
                    "amount_cents": 7500,
                    "delivered_at": "2026-12-07T16:05:00Z",
                }
            ]
        }
    )

    order_id: uuid.UUID
    order_number: int
    vendor_store_id: uuid.UUID
    amount_cents: int
    delivered_at: datetime
