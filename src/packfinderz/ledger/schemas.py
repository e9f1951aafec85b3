"""Payout queue models (commerce.md §10)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class PayoutItem(BaseModel):
    """A delivered order whose cash was collected and whose vendor is not paid yet."""

    order_id: uuid.UUID
    order_number: int
    vendor_store_id: uuid.UUID
    amount_cents: int
    delivered_at: datetime
