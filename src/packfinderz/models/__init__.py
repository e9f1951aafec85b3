"""Every ORM table; importing this package registers them all on Base.metadata (Alembic reads it)."""

from packfinderz.models.ads import Ad, AdCreative, AdDailyRollup
from packfinderz.models.audit import AuditLog
from packfinderz.models.base import Base
from packfinderz.models.billing import (
    BillingPlan,
    BillingSandboxObject,
    Charge,
    PaymentMethod,
    Subscription,
    UsageCharge,
)
from packfinderz.models.cart import CartItem, CartRecord, CartVendorGroup
from packfinderz.models.catalog import (
    CatalogVersion,
    InventoryItem,
    Product,
    ProductMedia,
    ProductVolumeDiscount,
)
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import Store, StoreMembership, User
from packfinderz.models.ledger import LedgerEvent
from packfinderz.models.licenses import License
from packfinderz.models.media import Media, MediaAttachment
from packfinderz.models.notifications import AdminNotification, Notification
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.models.outbox import OutboxDLQ, OutboxEvent

__all__ = [
    "Ad",
    "AdCreative",
    "AdDailyRollup",
    "AdminNotification",
    "AuditLog",
    "Base",
    "BillingPlan",
    "BillingSandboxObject",
    "CartItem",
    "CartRecord",
    "CartVendorGroup",
    "CatalogVersion",
    "Charge",
    "InventoryItem",
    "LedgerEvent",
    "License",
    "Media",
    "MediaAttachment",
    "Notification",
    "OrderAssignment",
    "OrderLineItem",
    "OutboxDLQ",
    "OutboxEvent",
    "PaymentIntent",
    "PaymentMethod",
    "Product",
    "ProductMedia",
    "ProductVolumeDiscount",
    "Store",
    "StoreMembership",
    "Subscription",
    "UsageCharge",
    "User",
    "VendorOrder",
]
