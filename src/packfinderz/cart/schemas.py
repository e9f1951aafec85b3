"""Cart quote request and response models (commerce.md §6.1, §6.6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from packfinderz.checkout.examples import CART
from packfinderz.kit.schemas import Address, AsInteger, Input

MAX_CART_LINES = 100
_ITEM = CART["items"][0]
MAX_QUANTITY = 100_000

Quantity = Annotated[int, Field(gt=0, le=MAX_QUANTITY), AsInteger]
PromoCode = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=64)
]
RawAdToken = Annotated[str, Strict(), StringConstraints(max_length=4096)]


class CartLineIn(Input):
    """One requested line: a product, the vendor the buyer believes sells it, and a quantity."""

    product_id: uuid.UUID
    vendor_store_id: uuid.UUID
    quantity: Quantity


class VendorPromoIn(Input):
    vendor_store_id: uuid.UUID
    code: PromoCode


class CartQuoteIn(Input):
    """The full cart each time: a quote replaces the buyer's active cart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "product_id": _ITEM["product_id"],
                            "vendor_store_id": _ITEM["vendor_store_id"],
                            "quantity": 2,
                        }
                    ],
                    "vendor_promos": [{"vendor_store_id": _ITEM["vendor_store_id"], "code": "SPRING10"}],
                }
            ]
        }
    )

    items: Annotated[list[CartLineIn], Field(min_length=1, max_length=MAX_CART_LINES)]
    vendor_promos: Annotated[list[VendorPromoIn], Field(max_length=MAX_CART_LINES)] | None = None
    ad_tokens: Annotated[list[RawAdToken], Field(max_length=200)] | None = None


class WarningDTO(BaseModel):
    type: str
    message: str


class CartItemDTO(BaseModel):
    id: uuid.UUID
    product_id: uuid.UUID
    vendor_store_id: uuid.UUID
    vendor_store_name: str
    title: str
    thumbnail: str | None
    unit: str
    moq: int
    max_qty: int | None
    quantity: int
    unit_price_cents: int
    effective_unit_price_cents: int
    line_subtotal_cents: int
    line_discounts_cents: int
    line_total_cents: int
    applied_volume_discount: dict[str, Any] | None
    status: Literal["ok", "not_available", "invalid"]
    warnings: list[WarningDTO]
    created_at: datetime
    updated_at: datetime


class VendorGroupDTO(BaseModel):
    id: uuid.UUID
    vendor_store_id: uuid.UUID
    status: Literal["ok", "invalid"]
    warnings: list[WarningDTO]
    subtotal_cents: int
    line_discounts_cents: int
    promo: dict[str, Any] | None
    promo_discount_cents: int
    discounts_cents: int
    total_cents: int
    created_at: datetime
    updated_at: datetime


class CartQuote(BaseModel):
    """The cart header, its vendor groups and its items (nullable fields present as null)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CART]})

    id: uuid.UUID
    buyer_store_id: uuid.UUID
    status: Literal["active", "converted"]
    checkout_group_id: uuid.UUID | None
    shipping_address: Address | None
    billing_address: Address | None
    payment_method: Literal["cash", "ach"] | None
    shipping_line: dict[str, Any] | None
    tip_cents: int
    converted_at: datetime | None
    currency: str
    valid_until: datetime
    subtotal_cents: int
    discounts_cents: int
    total_cents: int
    ad_tokens: list[str]
    created_at: datetime
    updated_at: datetime
    vendor_groups: list[VendorGroupDTO]
    items: list[CartItemDTO]
