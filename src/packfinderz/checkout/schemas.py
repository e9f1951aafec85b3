"""Checkout request, CheckoutResult and confirmation models (commerce.md §7.1, §7.5, §7.6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from packfinderz.checkout.examples import CART, CHECKOUT_RESULT, CONFIRMATION
from packfinderz.kit.schemas import Address, AddressIn, AsInteger, Input
from packfinderz.models.orders import FulfillmentStatus, OrderStatus, ShippingStatus
from packfinderz.orders.schemas import PaymentIntentDTO, PaymentStatus

Cents = Annotated[int, Field(ge=0, le=10**9), AsInteger]
ShortText = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=200)
]


class ShippingLineIn(Input):
    """Stored with the order, not priced."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "standard", "title": "Standard delivery", "price_cents": 0}]}
    )

    code: Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=64)
    ]
    title: ShortText
    price_cents: Cents


class CheckoutIn(Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cart_id": CART["id"],
                    "shipping_address": CART["shipping_address"] | {"line2": "Suite 200"},
                    "payment_method": "cash",
                    "shipping_line": {"code": "standard", "title": "Standard delivery", "price_cents": 0},
                    "tip_cents": 0,
                }
            ]
        }
    )

    cart_id: uuid.UUID
    shipping_address: AddressIn
    billing_address: AddressIn | None = Field(None, description="Defaults to the shipping address.")
    payment_method: Literal["cash", "ach"] = Field(description="`ach` only when the ACH feature flag is on.")
    shipping_line: ShippingLineIn | None = None
    tip_cents: Cents = 0


class CheckoutLine(BaseModel):
    line_item_id: uuid.UUID
    product_id: uuid.UUID | None
    product_name: str
    thumbnail: str | None
    qty: int
    unit: str
    unit_price_cents: int
    discount_cents: int
    total_cents: int
    status: Literal["pending", "fulfilled", "rejected"]
    notes: str | None


class CheckoutOrder(BaseModel):
    order_id: uuid.UUID
    order_number: int
    vendor_store_id: uuid.UUID
    status: OrderStatus
    subtotal_cents: int
    discounts_cents: int
    tax_cents: int
    transport_fee_cents: int
    total_cents: int
    balance_due_cents: int
    items: list[CheckoutLine]


class RejectedLine(BaseModel):
    product_id: uuid.UUID | None
    product_name: str
    qty: int
    reason: str


class RejectedVendor(BaseModel):
    vendor_store_id: uuid.UUID
    reason: Literal["vendor_unavailable", "insufficient_inventory"]
    order_id: uuid.UUID | None
    line_items: list[RejectedLine]
    warnings: list[dict[str, str]] | None


class CheckoutResult(BaseModel):
    """Also the body of a replay; `vendor_orders` (every order created, rejected ones included) and
    `rejected_vendors` are sorted by vendor_store_id."""

    model_config = ConfigDict(json_schema_extra={"examples": [CHECKOUT_RESULT]})

    checkout_group_id: uuid.UUID
    shipping_address: Address
    billing_address: Address | None
    payment_method: Literal["cash", "ach"]
    shipping_line: dict[str, Any] | None
    tip_cents: int
    vendor_orders: list[CheckoutOrder]
    rejected_vendors: list[RejectedVendor]


class ConfirmationLine(CheckoutLine):
    category: str | None
    strain: str | None
    classification: str | None
    warnings: list[dict[str, str]]


class ConfirmationOrder(CheckoutOrder):
    items: list[ConfirmationLine]  # type: ignore[assignment]
    payment_status: PaymentStatus | None
    fulfillment_status: FulfillmentStatus
    shipping_status: ShippingStatus
    warnings: list[dict[str, str]] | None
    promo: dict[str, Any] | None
    payment_intent: PaymentIntentDTO | None
    active_assignment: dict[str, Any] | None = Field(
        None, description="The order's active delivery assignment (orders lifecycle)."
    )
    created_at: datetime


class Confirmation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CONFIRMATION]})

    checkout_group_id: uuid.UUID
    cart_id: uuid.UUID | None
    vendor_orders: list[ConfirmationOrder]
