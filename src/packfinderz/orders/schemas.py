"""Order request and response models (commerce.md §8.4, §9.4, §9.7, §10)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, StringConstraints

from packfinderz.kit.schemas import Address, Input
from packfinderz.models.orders import FulfillmentStatus, OrderStatus, ShippingStatus
from packfinderz.orders import examples


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Note = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S", max_length=500)
]
PaymentStatus = Literal["unpaid", "pending", "settled", "paid", "failed", "rejected"]
PaymentMethod = Literal["cash", "ach"]
LineStatus = Literal["pending", "fulfilled", "rejected"]
RefundStatus = Literal["none", "partial", "full"]


class PaymentIntentDTO(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.PAYMENT_INTENT]})

    id: uuid.UUID
    method: PaymentMethod
    status: PaymentStatus
    amount_cents: int
    cash_collected_at: datetime | None
    vendor_paid_at: datetime | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


# --- requests -------------------------------------------------------------------------------------


class DecisionIn(Input):
    """The vendor's decision on the whole order (case-insensitive)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"decision": "accept"}]})

    decision: Annotated[Literal["accept", "reject"], BeforeValidator(_lower)]


class LineDecisionIn(Input):
    """The vendor's decision on one line: `fulfill` accepts and packs it (case-insensitive)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line_item_id": examples.ORDER_DETAIL["line_items"][0]["id"],
                    "decision": "fulfill",
                    "notes": "Packed in two jars",
                }
            ]
        }
    )

    line_item_id: uuid.UUID
    decision: Annotated[Literal["fulfill", "reject"], BeforeValidator(_lower)]
    notes: Note | None = None


class CancelIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Ordered the wrong strain"}]})

    reason: Note | None = None


# --- responses ------------------------------------------------------------------------------------


class ActionResult(BaseModel):
    """The order's state after an action."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.ACTION_RESULT]})

    order_id: uuid.UUID
    status: OrderStatus
    payment_status: PaymentStatus | None
    fulfillment_status: FulfillmentStatus
    shipping_status: ShippingStatus
    balance_due_cents: int


class OrderRef(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_id": examples.ORDER_ID}]})

    order_id: uuid.UUID


class StoreCard(BaseModel):
    """The other party of an order in a list."""

    id: uuid.UUID
    company_name: str
    dba_name: str | None
    logo_url: str | None


class AddressedStoreCard(StoreCard):
    address: Address


class PartyStore(StoreCard):
    """A party of an order in its detail."""

    address: Address | None
    phone: str | None


class _Summary(BaseModel):
    id: uuid.UUID
    order_number: int
    created_at: datetime
    status: OrderStatus
    total_cents: int
    discounts_cents: int
    total_items: int
    payment_status: PaymentStatus | None
    fulfillment_status: FulfillmentStatus
    shipping_status: ShippingStatus


class BuyerOrderSummary(_Summary):
    """An order as its buyer lists it: the counterparty is the vendor."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.BUYER_SUMMARY]})

    vendor: StoreCard


class VendorOrderSummary(_Summary):
    """An order as its vendor lists it: the counterparty is the buyer."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.VENDOR_SUMMARY]})

    buyer: StoreCard


class AgentOrderSummary(_Summary):
    """An order as a delivery agent lists it: both parties with their addresses."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.AGENT_SUMMARY]})

    buyer: AddressedStoreCard
    vendor: AddressedStoreCard


class OrderDTO(BaseModel):
    """The order columns, without the cart and ad attribution fields."""

    id: uuid.UUID
    checkout_group_id: uuid.UUID
    buyer_store_id: uuid.UUID
    vendor_store_id: uuid.UUID
    order_number: int
    status: OrderStatus
    refund_status: RefundStatus
    fulfillment_status: FulfillmentStatus
    shipping_status: ShippingStatus
    currency: Literal["USD"]
    shipping_address: dict[str, Any]
    payment_method: PaymentMethod
    shipping_line: dict[str, Any] | None
    warnings: list[dict[str, Any]]
    promo: dict[str, Any] | None
    subtotal_cents: int
    discounts_cents: int
    tax_cents: int
    transport_fee_cents: int
    total_cents: int
    balance_due_cents: int
    retry_of_order_id: uuid.UUID | None
    manifest_media_id: uuid.UUID | None
    manifest_generated_at: datetime | None
    ready_at: datetime | None
    fulfilled_at: datetime | None
    delivered_at: datetime | None
    canceled_at: datetime | None
    expired_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LineItemDTO(BaseModel):
    """A line's snapshot, status and notes (the reason of a rejection, or the vendor's note)."""

    id: uuid.UUID
    order_id: uuid.UUID
    product_id: uuid.UUID | None
    position: int
    name: str
    sku: str | None
    category: str | None
    strain: str | None
    classification: str | None
    unit: str
    thumbnail: str | None
    moq: int
    max_qty: int | None
    unit_price_cents: int
    qty: int
    discount_cents: int
    line_subtotal_cents: int
    total_cents: int
    warnings: list[dict[str, Any]]
    applied_volume_discount: dict[str, Any] | None
    status: LineStatus
    notes: str | None
    created_at: datetime
    updated_at: datetime


class AgentName(BaseModel):
    user_id: uuid.UUID
    first_name: str
    last_name: str


class AssignmentDTO(BaseModel):
    """An order assignment row and its agent."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.ASSIGNMENT]})

    id: uuid.UUID
    order_id: uuid.UUID
    agent_user_id: uuid.UUID
    source: Literal["auto", "claim", "admin"]
    assigned_by_user_id: uuid.UUID | None
    active: bool
    assigned_at: datetime
    unassigned_at: datetime | None
    pickup_time: datetime | None
    delivery_time: datetime | None
    cash_pickup_time: datetime | None
    agent: AgentName


class ManifestRef(BaseModel):
    media_id: uuid.UUID
    generated_at: datetime


class OrderDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ORDER_DETAIL]})

    order: OrderDTO
    line_items: list[LineItemDTO]
    payment_intent: PaymentIntentDTO | None
    buyer_store: PartyStore
    vendor_store: PartyStore
    active_assignment: AssignmentDTO | None
    manifest: ManifestRef | None


class StorefrontTotals(BaseModel):
    """Every order between the active buyer and one vendor, whatever its status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"total_orders": 1, "total_items": 2, "total_spent_cents": 7500, "total_discounts_cents": 0}
            ]
        }
    )

    total_orders: int
    total_items: int
    total_spent_cents: int
    total_discounts_cents: int


class Manifest(BaseModel):
    """The current transport manifest of an order; `download_url` is signed and expires."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.MANIFEST]})

    order_id: uuid.UUID
    media_id: uuid.UUID
    generated_at: datetime
    file_name: str
    download_url: str
    expires_at: datetime
