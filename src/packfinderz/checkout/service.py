"""Checkout (commerce.md §7): one transaction turning the buyer's quote into one order per vendor.

Stock is reserved line by line with the conditional update of the catalog (never oversold); vendors and
lines that cannot proceed are rejected without affecting the others; a converted cart replays its result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import tokens as ad_tokens
from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog import repository as inventory
from packfinderz.checkout import repository
from packfinderz.checkout.repository import CartLine
from packfinderz.checkout.schemas import (
    CheckoutIn,
    CheckoutLine,
    CheckoutOrder,
    CheckoutResult,
    Confirmation,
    ConfirmationLine,
    ConfirmationOrder,
    PaymentIntentDTO,
    RejectedLine,
    RejectedVendor,
)
from packfinderz.config import Settings
from packfinderz.events.outbox import emit
from packfinderz.events.registry import CheckoutConverted, OrderCreated
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, StateConflict, ValidationFailed
from packfinderz.models.cart import CartRecord
from packfinderz.models.identity import Store
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.stores.service import vendor_visible_to_buyer

log = structlog.get_logger("checkout")

GROUP_CONSTRAINT = "uq_vendor_orders_checkout_group_id_vendor_store_id"


@dataclass
class _Vendor:
    """One visible vendor's lines during checkout."""

    id: uuid.UUID
    lines: list[CartLine]
    warnings: list[dict[str, str]]
    promo: dict[str, Any] | None
    # line item id -> rejection reason (absent: reserved)
    rejected: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def reserved_any(self) -> bool:
        return any(line.item.id not in self.rejected for line in self.lines)


def _unavailable(vendor_id: uuid.UUID, lines: Sequence[CartLine]) -> RejectedVendor:
    return RejectedVendor(
        vendor_store_id=vendor_id,
        reason="vendor_unavailable",
        order_id=None,
        line_items=[
            RejectedLine(
                product_id=line.item.product_id,
                product_name=line.item.title,
                qty=line.item.quantity,
                reason="vendor_unavailable",
            )
            for line in lines
        ],
        warnings=lines[0].group_warnings or None,
    )


async def checkout(
    session: AsyncSession, ctx: StoreCtx, body: CheckoutIn, settings: Settings
) -> tuple[int, CheckoutResult]:
    """Run the checkout of commerce.md §7.2; returns (201, result), or (200, result) for a converted cart."""
    if body.payment_method == "ach" and not settings.feature_allow_ach:
        raise ValidationFailed(details={"payment_method": "ach is not enabled"})
    locked = await repository.lock_cart(session, body.cart_id, ctx.store_id)
    if locked is None:
        raise NotFound("cart not found")
    cart = locked.cart
    if cart.status == "converted":
        return 200, await _replay(session, cart)
    if not locked.fresh:
        raise Conflict(
            "cart quote expired; quote the cart again", details={"valid_until": cart.valid_until.isoformat()}
        )
    lines = await repository.ok_lines(session, cart.id)
    if not lines:
        raise Conflict("cart has no items that can be ordered; quote the cart again")

    by_vendor: dict[uuid.UUID, list[CartLine]] = {}
    for line in lines:
        by_vendor.setdefault(line.item.vendor_store_id, []).append(line)
    parties = await repository.parties(session, [ctx.store_id, *by_vendor])
    buyer, buyer_licensed = parties[ctx.store_id]
    if buyer.type != "buyer":
        raise Forbidden("buyer access required")
    if buyer.kyc_status != "verified" or not buyer_licensed:
        raise Forbidden("buyer verification required")

    rejected_vendors: list[RejectedVendor] = []
    vendors: list[_Vendor] = []
    for vendor_id in sorted(by_vendor):
        vendor_lines = by_vendor[vendor_id]
        store, licensed = parties.get(vendor_id, (None, False))
        if store is None or not licensed or not vendor_visible_to_buyer(store, buyer):
            rejected_vendors.append(_unavailable(vendor_id, vendor_lines))
            continue
        first = vendor_lines[0]
        vendors.append(_Vendor(vendor_id, vendor_lines, first.group_warnings, first.group_promo))
    if not vendors:
        raise Conflict(
            "no vendor in this cart is available",
            details={"rejected_vendors": [v.model_dump(mode="json") for v in rejected_vendors]},
        )

    quantities = _check_rules(vendors)
    group_id = cart.checkout_group_id or uuid.uuid4()
    try:
        # A savepoint, so a concurrent conversion (unique group/vendor) undoes this attempt's
        # reservations and rows, and the request still answers with the group's orders.
        async with session.begin_nested():
            outcome = await inventory.reserve(session, quantities)
            for vendor in vendors:
                for line in vendor.lines:
                    if line.item.id not in vendor.rejected and not outcome[line.item.product_id]:
                        vendor.rejected[line.item.id] = "insufficient_inventory"
            if not any(v.reserved_any for v in vendors):
                rejected_vendors.extend(_stock_rejection(v, None) for v in vendors)
                raise Conflict(
                    "nothing in this cart could be reserved",
                    details={
                        "rejected_vendors": [
                            v.model_dump(mode="json") for v in sorted(rejected_vendors, key=_vendor_key)
                        ]
                    },
                )
            result = await _write(
                session,
                ctx,
                cart=cart,
                body=body,
                buyer=buyer,
                vendors=vendors,
                group_id=group_id,
                settings=settings,
            )
    except IntegrityError as exc:
        if GROUP_CONSTRAINT not in str(exc.orig):
            raise
        converted = await repository.reload_cart(session, cart.id)
        if converted.status != "converted":
            raise
        log.warning("checkout.concurrent_conversion", cart_id=str(cart.id))
        return 200, await _replay(session, converted)
    result.rejected_vendors = sorted([*rejected_vendors, *result.rejected_vendors], key=_vendor_key)
    log.info(
        "checkout.converted",
        checkout_group_id=str(group_id),
        cart_id=str(cart.id),
        orders=len(result.vendor_orders),
        rejected_vendors=len(result.rejected_vendors),
    )
    return 201, result


def _vendor_key(entry: RejectedVendor) -> str:
    return str(entry.vendor_store_id)


def _check_rules(vendors: Sequence[_Vendor]) -> dict[uuid.UUID, int]:
    """Reject lines of products gone or inactive; 422 on a current MOQ/max breach; merged quantities.

    Lines of the same product are merged (quantities summed) and share the reservation's outcome.
    """
    quantities: dict[uuid.UUID, int] = {}
    current: dict[uuid.UUID, CartLine] = {}
    for vendor in vendors:
        for line in vendor.lines:
            if line.product is None or not line.product.is_active:
                vendor.rejected[line.item.id] = "not_available"
                continue
            quantities[line.item.product_id] = quantities.get(line.item.product_id, 0) + line.item.quantity
            current[line.item.product_id] = line
    violations = []
    for product_id, qty in quantities.items():
        product = current[product_id].product
        assert product is not None
        rule: tuple[str, int] | None = None
        if qty < product.moq:
            rule = ("moq", product.moq)
        elif product.max_qty > 0 and qty > product.max_qty:
            rule = ("max_qty", product.max_qty)
        if rule is not None:
            violations.append(
                {
                    "product_id": str(product_id),
                    "product_name": product.title,
                    "rule": rule[0],
                    "limit_qty": rule[1],
                    "requested_qty": qty,
                }
            )
    if violations:
        raise StateConflict(
            "the cart breaks the current quantity rules; quote it again", details={"violations": violations}
        )
    return quantities


def _stock_rejection(vendor: _Vendor, order_id: uuid.UUID | None) -> RejectedVendor:
    return RejectedVendor(
        vendor_store_id=vendor.id,
        reason="insufficient_inventory",
        order_id=order_id,
        line_items=[
            RejectedLine(
                product_id=line.item.product_id,
                product_name=_name(line),
                qty=line.item.quantity,
                reason=vendor.rejected[line.item.id],
            )
            for line in vendor.lines
        ],
        warnings=vendor.warnings or None,
    )


def _name(line: CartLine) -> str:
    return line.product.title if line.product is not None else line.item.title


async def _write(
    session: AsyncSession,
    ctx: StoreCtx,
    *,
    cart: CartRecord,
    body: CheckoutIn,
    buyer: Store,
    vendors: Sequence[_Vendor],
    group_id: uuid.UUID,
    settings: Settings,
) -> CheckoutResult:
    """Insert orders, lines and intents, convert the cart, emit the events; the result of §7.5."""
    tokens = ad_tokens.for_buyer(cart.ad_tokens, settings.effective_ads_token_secret, buyer.id)
    shipping = body.shipping_address.model_dump(mode="json")
    billing = body.billing_address.model_dump(mode="json") if body.billing_address else shipping
    shipping_line = body.shipping_line.model_dump(mode="json") if body.shipping_line else None
    order_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for vendor in vendors:
        order_id = uuid.uuid4()
        live = [line for line in vendor.lines if line.item.id not in vendor.rejected]
        subtotal = sum(line.item.line_subtotal_cents for line in live)
        discounts = min(sum(line.item.line_discounts_cents for line in live), subtotal)
        total = subtotal - discounts
        store_token = ad_tokens.best_for(tokens, "store", vendor.id)
        order_rows.append(
            {
                "id": order_id,
                "cart_id": cart.id,
                "checkout_group_id": group_id,
                "buyer_store_id": buyer.id,
                "vendor_store_id": vendor.id,
                "status": "created_pending" if live else "rejected",
                "shipping_address": shipping,
                "payment_method": body.payment_method,
                "shipping_line": shipping_line,
                "warnings": vendor.warnings,
                "promo": vendor.promo,
                "ad_token": store_token.raw if store_token else None,
                "subtotal_cents": subtotal,
                "discounts_cents": discounts,
                "total_cents": total,
                "balance_due_cents": total if live else 0,
            }
        )
        for position, line in enumerate(vendor.lines):
            item, product = line.item, line.product
            product_token = ad_tokens.best_for(tokens, "product", item.product_id)
            reason = vendor.rejected.get(item.id)
            line_rows.append(
                {
                    "id": uuid.uuid4(),
                    "order_id": order_id,
                    "product_id": item.product_id if product is not None else None,
                    "cart_item_id": item.id,
                    "position": position,
                    "name": _name(line),
                    "sku": product.sku if product else None,
                    "category": product.category if product else None,
                    "strain": product.strain if product else None,
                    "classification": product.classification if product else None,
                    "unit": item.unit,
                    "thumbnail": item.thumbnail,
                    "moq": item.moq,
                    "max_qty": item.max_qty,
                    "unit_price_cents": item.unit_price_cents,
                    "qty": item.quantity,
                    "discount_cents": item.line_discounts_cents,
                    "line_subtotal_cents": item.line_subtotal_cents,
                    "total_cents": item.line_total_cents,
                    "warnings": item.warnings,
                    "applied_volume_discount": item.applied_volume_discount,
                    "ad_token": product_token.raw if product_token else None,
                    "status": "rejected" if reason else "pending",
                    "notes": reason,
                }
            )
    orders = sorted(await repository.insert_orders(session, order_rows), key=lambda o: str(o.vendor_store_id))
    await repository.insert_lines(session, line_rows)
    intent_status = "pending" if body.payment_method == "ach" else "unpaid"
    intent_rows = [
        {
            "order_id": o.id,
            "method": body.payment_method,
            "status": intent_status,
            "amount_cents": o.total_cents,
        }
        for o in orders
        if o.status != "rejected"
    ]
    await repository.insert_intents(session, intent_rows)
    converted_at = await repository.convert_cart(
        session,
        cart.id,
        {
            "checkout_group_id": group_id,
            "shipping_address": shipping,
            "billing_address": billing,
            "payment_method": body.payment_method,
            "shipping_line": shipping_line,
            "tip_cents": body.tip_cents,
        },
    )
    lines_by_order: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in line_rows:
        lines_by_order.setdefault(row["order_id"], []).append(row)
    order_ids = [o.id for o in orders]
    await emit(
        session,
        OrderCreated(checkout_group_id=group_id, vendor_order_ids=order_ids),
        actor=ctx.actor(),
        dedupe_key=f"order_created:{group_id}",
    )
    await emit(
        session,
        CheckoutConverted(
            checkout_group_id=group_id,
            cart_id=cart.id,
            buyer_store_id=buyer.id,
            vendor_order_ids=order_ids,
            vendor_store_ids=[o.vendor_store_id for o in orders],
            converted_at=converted_at,
            analytics=_analytics(body, cart, orders, lines_by_order, intent_status),
        ),
        actor=ctx.actor(),
        dedupe_key=f"checkout_converted:{group_id}",
    )
    vendor_of = {v.id: v for v in vendors}
    return CheckoutResult(
        checkout_group_id=group_id,
        shipping_address=shipping,
        billing_address=billing,
        payment_method=body.payment_method,
        shipping_line=shipping_line,
        tip_cents=body.tip_cents,
        vendor_orders=[_order_out(o, [_line_out(r) for r in lines_by_order[o.id]]) for o in orders],
        rejected_vendors=[
            _stock_rejection(vendor_of[o.vendor_store_id], o.id) for o in orders if o.status == "rejected"
        ],
    )


def _line_out(row: dict[str, Any]) -> CheckoutLine:
    return CheckoutLine(
        line_item_id=row["id"],
        product_id=row["product_id"],
        product_name=row["name"],
        thumbnail=row["thumbnail"],
        qty=row["qty"],
        unit=row["unit"],
        unit_price_cents=row["unit_price_cents"],
        discount_cents=row["discount_cents"],
        total_cents=row["total_cents"],
        status=row["status"],
        notes=row["notes"],
    )


def _order_fields(order: VendorOrder) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "order_number": order.order_number,
        "vendor_store_id": order.vendor_store_id,
        "status": order.status,
        "subtotal_cents": order.subtotal_cents,
        "discounts_cents": order.discounts_cents,
        "tax_cents": order.tax_cents,
        "transport_fee_cents": order.transport_fee_cents,
        "total_cents": order.total_cents,
        "balance_due_cents": order.balance_due_cents,
    }


def _order_out(order: VendorOrder, items: list[CheckoutLine]) -> CheckoutOrder:
    return CheckoutOrder(**_order_fields(order), items=items)


def _analytics(
    body: CheckoutIn,
    cart: CartRecord,
    orders: Sequence[VendorOrder],
    lines_by_order: dict[uuid.UUID, list[dict[str, Any]]],
    intent_status: str,
) -> dict[str, Any]:
    """`checkout_converted.analytics` (platform.md §10); money sums are over the orders created."""
    address = body.shipping_address
    return {
        "currency": "USD",
        "payment_method": body.payment_method,
        "shipping_address": {"postal_code": address.postal_code, "lat": address.lat, "lng": address.lng},
        "shipping_line": body.shipping_line.model_dump(mode="json") if body.shipping_line else None,
        "subtotal_cents": sum(o.subtotal_cents for o in orders),
        "discounts_cents": sum(o.discounts_cents for o in orders),
        "total_cents": sum(o.total_cents for o in orders),
        "ad_tokens": list(cart.ad_tokens),
        "vendor_orders": [
            {
                "order_id": str(o.id),
                "vendor_store_id": str(o.vendor_store_id),
                "status": o.status,
                "payment_status": intent_status if o.status != "rejected" else None,
                "payment_method": o.payment_method,
                "total_cents": o.total_cents,
                "balance_due_cents": o.balance_due_cents,
                "payment_intent_status": intent_status if o.status != "rejected" else None,
                "payment_intent_method": o.payment_method if o.status != "rejected" else None,
                "ad_token": o.ad_token,
            }
            for o in orders
        ],
        "items": [
            {
                "order_id": str(o.id),
                "vendor_store_id": str(o.vendor_store_id),
                "product_id": str(row["product_id"]) if row["product_id"] else None,
                "name": row["name"],
                "category": row["category"],
                "strain": row["strain"],
                "classification": row["classification"],
                "unit": row["unit"],
                "moq": row["moq"],
                "max_qty": row["max_qty"],
                "qty": row["qty"],
                "unit_price_cents": row["unit_price_cents"],
                "discount_cents": row["discount_cents"],
                "line_subtotal_cents": row["line_subtotal_cents"],
                "line_total_cents": row["total_cents"],
                "status": row["status"],
                "warnings": row["warnings"],
                "applied_volume_discount": row["applied_volume_discount"],
                "ad_token": row["ad_token"],
            }
            for o in orders
            for row in lines_by_order[o.id]
        ],
    }


# --- replay and confirmation -----------------------------------------------------------------------


async def _replay(session: AsyncSession, cart: CartRecord) -> CheckoutResult:
    """The result of a converted cart, rebuilt from its orders and its (never modified) items: no writes."""
    group_id = cart.checkout_group_id
    if group_id is None:  # the converted_fields CHECK makes this unreachable
        raise RuntimeError("converted cart without a checkout group")
    orders = await repository.orders_of(session, group_id, by_cart=False)
    lines = await repository.lines_of(session, [o.id for o, _ in orders])
    by_order: dict[uuid.UUID, list[OrderLineItem]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    cart_lines = await repository.ok_lines(session, cart.id)
    ordered_vendors = {o.vendor_store_id for o, _ in orders}
    missing: dict[uuid.UUID, list[CartLine]] = {}
    for cart_line in cart_lines:
        if cart_line.item.vendor_store_id not in ordered_vendors:
            missing.setdefault(cart_line.item.vendor_store_id, []).append(cart_line)
    warnings_of = {line.item.vendor_store_id: line.group_warnings for line in cart_lines}
    rejected = [_unavailable(vendor_id, vendor_lines) for vendor_id, vendor_lines in missing.items()]
    for order, intent in orders:
        if intent is None and order.status == "rejected":  # rejected at checkout: nothing was reserved
            rejected.append(
                RejectedVendor(
                    vendor_store_id=order.vendor_store_id,
                    reason="insufficient_inventory",
                    order_id=order.id,
                    line_items=[
                        RejectedLine(
                            product_id=x.product_id, product_name=x.name, qty=x.qty, reason=x.notes or ""
                        )
                        for x in by_order.get(order.id, [])
                    ],
                    warnings=warnings_of.get(order.vendor_store_id) or None,
                )
            )
    return CheckoutResult.model_validate(
        {
            "checkout_group_id": group_id,
            "shipping_address": cart.shipping_address,
            "billing_address": cart.billing_address,
            "payment_method": cart.payment_method,
            "shipping_line": cart.shipping_line,
            "tip_cents": cart.tip_cents,
            "vendor_orders": sorted(
                [_order_out(o, [_stored_line(x) for x in by_order.get(o.id, [])]) for o, _ in orders],
                key=lambda o: str(o.vendor_store_id),
            ),
            "rejected_vendors": sorted(rejected, key=_vendor_key),
        }
    )


def _stored_line(line: OrderLineItem) -> CheckoutLine:
    return CheckoutLine(
        line_item_id=line.id,
        product_id=line.product_id,
        product_name=line.name,
        thumbnail=line.thumbnail,
        qty=line.qty,
        unit=line.unit,
        unit_price_cents=line.unit_price_cents,
        discount_cents=line.discount_cents,
        total_cents=line.total_cents,
        status=line.status,
        notes=line.notes,
    )


async def confirmation(session: AsyncSession, ctx: StoreCtx, identifier: uuid.UUID) -> Confirmation:
    """The group's orders (by group id, else cart id) with current states; the buyer's only (else 403)."""
    orders = await repository.orders_of(session, identifier)
    if not orders:
        raise NotFound("no orders for this checkout")
    if any(order.buyer_store_id != ctx.store_id for order, _ in orders):
        raise Forbidden("checkout belongs to another store")
    lines = await repository.lines_of(session, [o.id for o, _ in orders])
    by_order: dict[uuid.UUID, list[OrderLineItem]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    first = orders[0][0]
    return Confirmation(
        checkout_group_id=first.checkout_group_id,
        cart_id=first.cart_id,
        vendor_orders=[_confirmation_order(o, intent, by_order.get(o.id, [])) for o, intent in orders],
    )


def _confirmation_order(
    order: VendorOrder, intent: PaymentIntent | None, lines: Sequence[OrderLineItem]
) -> ConfirmationOrder:
    return ConfirmationOrder(
        **_order_fields(order),
        items=[
            ConfirmationLine(
                **_stored_line(line).model_dump(),
                category=line.category,
                strain=line.strain,
                classification=line.classification,
                warnings=line.warnings,
            )
            for line in lines
        ],
        payment_status=intent.status if intent else None,
        fulfillment_status=order.fulfillment_status,
        shipping_status=order.shipping_status,
        warnings=order.warnings or None,
        promo=order.promo,
        payment_intent=PaymentIntentDTO.model_validate(intent, from_attributes=True) if intent else None,
        active_assignment=None,
        created_at=order.created_at,
    )
