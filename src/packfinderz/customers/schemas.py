"""Vendor CRM response models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

from packfinderz.models.orders import OrderStatus
from packfinderz.orders.schemas import PartyStore, StoreCard

CustomerSort = Literal["last_order", "total_spent"]

_BUYER: JsonDict = {
    "id": "1a2b3c4d-0000-4000-8000-000000000001",
    "company_name": "Green Leaf Dispensary LLC",
    "dba_name": "Green Leaf",
    "logo_url": None,
}
_FIGURES: JsonDict = {
    "order_count": 4,
    "total_spent_cents": 184500,
    "first_order_at": "2026-10-02T15:04:05Z",
    "last_order_at": "2026-12-01T09:30:00Z",
}


CUSTOMER_EXAMPLE: JsonDict = {"buyer": _BUYER, **_FIGURES}


class CustomerDTO(BaseModel):
    """A buyer store the vendor sells to, with figures over all of its orders with this vendor."""

    model_config = ConfigDict(json_schema_extra={"examples": [CUSTOMER_EXAMPLE]})

    buyer: StoreCard
    order_count: int
    total_spent_cents: int
    first_order_at: datetime
    last_order_at: datetime


_RECENT_ORDER: JsonDict = {
    "id": "1a2b3c4d-0000-4000-8000-000000000009",
    "order_number": 1042,
    "status": "delivered",
    "total_cents": 52500,
    "discounts_cents": 0,
    "created_at": "2026-12-01T09:30:00Z",
}


class CustomerOrder(BaseModel):
    """One of the customer's latest orders with the active vendor."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RECENT_ORDER]})

    id: uuid.UUID
    order_number: int
    status: OrderStatus
    total_cents: int
    discounts_cents: int
    created_at: datetime


class CustomerDetail(BaseModel):
    """One customer: the list figures, whether it is hidden from the list, and its latest orders."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "buyer": {
                        **_BUYER,
                        "phone": "+1 405 555 0100",
                        "address": {
                            "line1": "100 N Broadway Ave",
                            "line2": None,
                            "city": "Oklahoma City",
                            "state": "OK",
                            "postal_code": "73102",
                            "country": "US",
                            "lat": 35.4676,
                            "lng": -97.5164,
                        },
                    },
                    **_FIGURES,
                    "hidden": False,
                    "recent_orders": [_RECENT_ORDER],
                }
            ]
        }
    )

    buyer: PartyStore
    order_count: int
    total_spent_cents: int
    first_order_at: datetime
    last_order_at: datetime
    hidden: bool
    recent_orders: list[CustomerOrder]
