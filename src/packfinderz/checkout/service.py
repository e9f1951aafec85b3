"""Checkout (commerce.md §7): one transaction turning the buyer's quote into one order per vendor.

Stock is reserved line by line with the conditional update of the catalog (never oversold); vendors and
lines that cannot proceed are rejected without affecting the others; a converted cart replays its result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import tokens as ad_tokens
from packfinderz.auth.deps import StoreCtx
from packfinderz.catalog.service import available_stock, reserve_stock
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
    RejectedLine,
    RejectedVendor,
)
from packfinderz.config import Settings
from packfinderz.events.outbox import amend, emit
from packfinderz.events.registry import CheckoutConverted, OrderCreated
from packfinderz.kit.errors import Conflict, Forbidden, NotFound, StateConflict, ValidationFailed
from packfinderz.models.cart import CartRecord
from packfinderz.models.delivery import OrderAssignment
from packfinderz.models.identity import Store, User
from packfinderz.models.orders import OrderLineItem, PaymentIntent, VendorOrder
from packfinderz.orders import lifecycle
from packfinderz.orders import repository as orders_repository
from packfinderz.orders.schemas import PaymentIntentDTO
from packfinderz.orders.service import assignment_dto
from packfinderz.stores import repository as stores_repository
from packfinderz.stores.service import delivery_refusal, vendor_visible_to_buyer

log = structlog.get_logger("checkout")


@dataclass
class _Vendor:
    """One visible vendor's lines and the order being written for them."""

    id: uuid.UUID
    lines: list[CartLine]
    warnings: list[dict[str, str]]
    promo: dict[str, Any] | None
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)
    order_number: int = 0
    # cart item id -> order line id, and -> rejection reason (absent: pending)
    line_ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    rejected: dict[uuid.UUID, str] = field(default_factory=dict)

    def live(self) -> list[CartLine]:
        return [line for line in self.lines if line.item.id not in self.rejected]

    @property
    def status(self) -> str:
        return lifecycle.placed_status(bool(self.live()))

    def totals(self) -> tuple[int, int, int, int]:
        """(subtotal, discounts, total, balance due) over the live lines (commerce.md §8.3)."""
        live = self.live()
        subtotal = sum(line.item.line_subtotal_cents for line in live)
        discounts = min(sum(line.item.line_discounts_cents for line in live), subtotal)
        total = subtotal - discounts
        return subtotal, discounts, total, total if live else 0


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
    parties = await stores_repository.parties(session, [ctx.store_id, *by_vendor])
    buyer, buyer_licensed = parties[ctx.store_id]
    if buyer.type != "buyer":
        raise Forbidden("buyer access required")
    if buyer.kyc_status != "verified" or not buyer_licensed:
        raise Forbidden("buyer verification required")

    unavailable: list[RejectedVendor] = []
    vendors: list[_Vendor] = []
    for vendor_id in sorted(by_vendor, key=str):
        vendor_lines = by_vendor[vendor_id]
        store, licensed = parties.get(vendor_id, (None, False))
        if store is None or not licensed or not vendor_visible_to_buyer(store, buyer):
            unavailable.append(_unavailable(vendor_id, vendor_lines))
            continue
        first = vendor_lines[0]
        vendors.append(_Vendor(vendor_id, vendor_lines, first.group_warnings, first.group_promo))
    if not vendors:
        raise Conflict(
            "no vendor in this cart is available",
            details={"rejected_vendors": [v.model_dump(mode="json") for v in unavailable]},
        )
    refusal = delivery_refusal(
        buyer, [parties[v.id][0] for v in vendors], body.shipping_address.model_dump(mode="json")
    )
    if refusal is not None:  # before any write: nothing is reserved
        raise StateConflict(refusal.pop("message"), details=refusal)
    quantities = _check_rules(vendors)
    # Hot-SKU admission: a product whose committed stock (read with the lines, no lock) cannot cover
    # its quantity is rejected now, before any write and without queueing behind its row lock.
    out_of_stock = _admit(vendors, quantities)
    if not any(vendor.live() for vendor in vendors):
        raise _nothing_reservable(unavailable, vendors, out_of_stock)

    group_id = cart.checkout_group_id or uuid.uuid4()
    writer = _Writer(session, ctx, cart=cart, body=body, buyer=buyer, group_id=group_id, settings=settings)
    if not await writer.insert_orders(vendors):
        # The group already holds orders (a concurrent conversion): this request's inserts are undone
        # and it answers with the group's orders (commerce.md §7.2 step 11).
        converted = await repository.reload_cart(session, cart.id)
        if converted.status != "converted":
            raise RuntimeError("checkout group holds orders but its cart is not converted")
        log.warning("checkout.concurrent_conversion", cart_id=str(cart.id))
        return 200, await _replay(session, converted)
    await writer.write_rest(vendors)

    # Stock last: everything else is written first (checkout_converted as if every admitted line is
    # reserved, amended below when stock ran out meanwhile), so the hot inventory rows stay locked for
    # one statement and the commit. Locks are taken in ascending product id, the house lock order.
    outcome = await reserve_stock(session, quantities)
    short = [
        (vendor, line)
        for vendor in vendors
        for line in vendor.live()
        if not outcome[line.item.product_id]  # merged lines of one product share its outcome
    ]
    for vendor, line in short:
        vendor.rejected[line.item.id] = "insufficient_inventory"
    if not any(vendor.live() for vendor in vendors):
        # Taken by a concurrent checkout after admission: the stock as committed now (this checkout
        # holds none of these rows: the reservation locks only rows that can take the quantity).
        lost = sorted({line.item.product_id for _, line in short}, key=str)
        remaining = await available_stock(session, lost)
        for _, line in short:
            out_of_stock[line.item.product_id] = (
                line,
                quantities[line.item.product_id],
                remaining[line.item.product_id],
            )
        raise _nothing_reservable(unavailable, vendors, out_of_stock)  # rolls back: the cart stays active
    if short:
        await writer.record_shortfall(vendors, short)
    result = writer.result(vendors, unavailable)
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


# product id -> (a line of it, merged requested quantity, remaining sellable stock)
OutOfStock = dict[uuid.UUID, tuple[CartLine, int, int]]


def _admit(vendors: Sequence[_Vendor], quantities: dict[uuid.UUID, int]) -> OutOfStock:
    """Hot-SKU admission: reject (`insufficient_inventory`) the lines of every product whose committed
    sellable stock is below its merged quantity, and drop it from `quantities` (not reserved).

    The stock was read without a lock, as last committed: a concurrent checkout's reservation counts only
    once committed, and nothing but a release can raise it again, so a product refused here could not
    have been reserved by waiting for its row lock either. Products that pass are still reserved under
    the lock with the conditional update (the oversell guard); admission only answers losers early.
    """
    out: OutOfStock = {}
    for vendor in vendors:
        for line in vendor.live():
            product_id = line.item.product_id
            wanted = quantities.get(product_id)
            if product_id in out or (wanted is not None and line.available_qty < wanted):
                out.setdefault(product_id, (line, wanted or 0, line.available_qty))
                vendor.rejected[line.item.id] = "insufficient_inventory"
    for product_id in out:
        quantities.pop(product_id, None)
    return out


def _nothing_reservable(
    unavailable: Sequence[RejectedVendor], vendors: Sequence[_Vendor], out_of_stock: OutOfStock
) -> Conflict:
    """409 when no line of the cart could be reserved: the vendors, and per product the quantity asked
    and the stock remaining (`details.out_of_stock`), so a buyer can re-quote for what is left."""
    rejected = [*unavailable, *(_stock_rejection(v, None) for v in vendors)]
    return Conflict(
        "nothing in this cart could be reserved",
        details={
            "rejected_vendors": [v.model_dump(mode="json") for v in sorted(rejected, key=_vendor_key)],
            "out_of_stock": [
                {
                    "product_id": str(product_id),
                    "product_name": _name(line),
                    "requested_qty": requested,
                    "remaining_qty": max(remaining, 0),
                }
                for product_id, (line, requested, remaining) in sorted(
                    out_of_stock.items(), key=lambda item: str(item[0])
                )
            ],
        },
    )


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


class _Writer:
    """The rows of one checkout: orders, lines, intents, the converted cart and the two events."""

    def __init__(
        self,
        session: AsyncSession,
        ctx: StoreCtx,
        *,
        cart: CartRecord,
        body: CheckoutIn,
        buyer: Store,
        group_id: uuid.UUID,
        settings: Settings,
    ) -> None:
        self.session, self.ctx, self.cart, self.body, self.buyer = session, ctx, cart, body, buyer
        self.group_id = group_id
        self.tokens = ad_tokens.for_buyer(cart.ad_tokens, settings.effective_ads_token_secret, buyer.id)
        self.shipping = body.shipping_address.model_dump(mode="json")
        self.billing = body.billing_address.model_dump(mode="json") if body.billing_address else self.shipping
        self.shipping_line = body.shipping_line.model_dump(mode="json") if body.shipping_line else None
        self.intent_status = lifecycle.initial_intent_status(body.payment_method)
        self.converted_at: datetime | None = None
        self.converted_key = f"checkout_converted:{group_id}"
        self.converted_emitted = False

    def _token(self, target_type: str, target_id: uuid.UUID) -> str | None:
        token = ad_tokens.best_for(self.tokens, target_type, target_id)
        return token.raw if token else None

    async def insert_orders(self, vendors: Sequence[_Vendor]) -> bool:
        """Write the orders; False (nothing left written) when the group already holds one of them."""
        rows = []
        for vendor in vendors:
            subtotal, discounts, total, balance = vendor.totals()
            rows.append(
                {
                    "id": vendor.order_id,
                    "cart_id": self.cart.id,
                    "checkout_group_id": self.group_id,
                    "buyer_store_id": self.buyer.id,
                    "vendor_store_id": vendor.id,
                    "status": vendor.status,
                    "shipping_address": self.shipping,
                    "payment_method": self.body.payment_method,
                    "shipping_line": self.shipping_line,
                    "warnings": vendor.warnings,
                    "promo": vendor.promo,
                    "ad_token": self._token("store", vendor.id),
                    "subtotal_cents": subtotal,
                    "discounts_cents": discounts,
                    "total_cents": total,
                    "balance_due_cents": balance,
                }
            )
        numbers = await repository.insert_orders(self.session, rows)
        if len(numbers) < len(vendors):  # some (group, vendor) pair already exists
            await repository.delete_orders(self.session, numbers)
            return False
        for vendor in vendors:
            vendor.order_number = numbers[vendor.order_id]
        return True

    async def write_rest(self, vendors: Sequence[_Vendor]) -> None:
        """Lines (pending unless already rejected), intents, the converted cart and both events."""
        line_rows = []
        for vendor in vendors:
            for position, line in enumerate(vendor.lines):
                item, product = line.item, line.product
                line_id = vendor.line_ids.setdefault(item.id, uuid.uuid4())
                reason = vendor.rejected.get(item.id)
                line_rows.append(
                    {
                        "id": line_id,
                        "order_id": vendor.order_id,
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
                        "ad_token": self._token("product", item.product_id),
                        "status": "rejected" if reason else "pending",
                        "notes": reason,
                    }
                )
        await repository.insert_lines(self.session, line_rows)
        await repository.insert_intents(
            self.session,
            [
                {
                    "order_id": vendor.order_id,
                    "method": self.body.payment_method,
                    "status": self.intent_status,
                    "amount_cents": vendor.totals()[2],
                }
                for vendor in vendors
                if vendor.live()
            ],
        )
        self.converted_at = await repository.convert_cart(
            self.session,
            self.cart.id,
            {
                "checkout_group_id": self.group_id,
                "shipping_address": self.shipping,
                "billing_address": self.billing,
                "payment_method": self.body.payment_method,
                "shipping_line": self.shipping_line,
                "tip_cents": self.body.tip_cents,
            },
        )
        await emit(
            self.session,
            OrderCreated(checkout_group_id=self.group_id, vendor_order_ids=[v.order_id for v in vendors]),
            actor=self.ctx.actor(),
            dedupe_key=f"order_created:{self.group_id}",
        )
        self.converted_emitted = await emit(
            self.session, self._converted(vendors), actor=self.ctx.actor(), dedupe_key=self.converted_key
        )

    async def record_shortfall(
        self, vendors: Sequence[_Vendor], short: Sequence[tuple[_Vendor, CartLine]]
    ) -> None:
        """Lines that could not be reserved become rejected; their orders' totals and intents follow."""
        await repository.reject_lines(
            self.session, [vendor.line_ids[line.item.id] for vendor, line in short], "insufficient_inventory"
        )
        affected = [v for v in vendors if any(v is vendor for vendor, _ in short)]
        totals = []
        for vendor in affected:
            subtotal, discounts, total, balance = vendor.totals()
            totals.append(
                {
                    "id": vendor.order_id,
                    "status": vendor.status,
                    "subtotal_cents": subtotal,
                    "discounts_cents": discounts,
                    "total_cents": total,
                    "balance_due_cents": balance,
                }
            )
        await repository.set_order_totals(self.session, totals)
        await repository.settle_intents(
            self.session,
            dropped=[v.order_id for v in affected if not v.live()],
            amounts={v.order_id: v.totals()[2] for v in affected if v.live()},
        )
        if self.converted_emitted:
            await amend(self.session, self._converted(vendors), dedupe_key=self.converted_key)

    def _converted(self, vendors: Sequence[_Vendor]) -> CheckoutConverted:
        assert self.converted_at is not None
        return CheckoutConverted(
            checkout_group_id=self.group_id,
            cart_id=self.cart.id,
            buyer_store_id=self.buyer.id,
            vendor_order_ids=[v.order_id for v in vendors],
            vendor_store_ids=[v.id for v in vendors],
            converted_at=self.converted_at,
            analytics=self._analytics(vendors),
        )

    def result(self, vendors: Sequence[_Vendor], unavailable: Sequence[RejectedVendor]) -> CheckoutResult:
        """The CheckoutResult from the final state of the vendors' orders."""
        rejected = [*unavailable, *(_stock_rejection(v, v.order_id) for v in vendors if not v.live())]
        return CheckoutResult.model_validate(
            {
                "checkout_group_id": self.group_id,
                "shipping_address": self.shipping,
                "billing_address": self.billing,
                "payment_method": self.body.payment_method,
                "shipping_line": self.shipping_line,
                "tip_cents": self.body.tip_cents,
                "vendor_orders": [self._order_out(v) for v in vendors],
                "rejected_vendors": sorted(rejected, key=_vendor_key),
            }
        )

    @staticmethod
    def _order_out(vendor: _Vendor) -> CheckoutOrder:
        subtotal, discounts, total, balance = vendor.totals()
        return CheckoutOrder(
            order_id=vendor.order_id,
            order_number=vendor.order_number,
            vendor_store_id=vendor.id,
            status=vendor.status,
            subtotal_cents=subtotal,
            discounts_cents=discounts,
            tax_cents=0,
            transport_fee_cents=0,
            total_cents=total,
            balance_due_cents=balance,
            items=[
                CheckoutLine(
                    line_item_id=vendor.line_ids[line.item.id],
                    product_id=line.item.product_id if line.product is not None else None,
                    product_name=_name(line),
                    thumbnail=line.item.thumbnail,
                    qty=line.item.quantity,
                    unit=line.item.unit,
                    unit_price_cents=line.item.unit_price_cents,
                    discount_cents=line.item.line_discounts_cents,
                    total_cents=line.item.line_total_cents,
                    status="rejected" if line.item.id in vendor.rejected else "pending",
                    notes=vendor.rejected.get(line.item.id),
                )
                for line in vendor.lines
            ],
        )

    def _analytics(self, vendors: Sequence[_Vendor]) -> dict[str, Any]:
        """`checkout_converted.analytics` (platform.md §10); money sums are over the orders created."""
        address = self.body.shipping_address
        orders = [(vendor, vendor.totals()) for vendor in vendors]
        return {
            "currency": "USD",
            "payment_method": self.body.payment_method,
            "shipping_address": {"postal_code": address.postal_code, "lat": address.lat, "lng": address.lng},
            "shipping_line": self.shipping_line,
            "subtotal_cents": sum(t[0] for _, t in orders),
            "discounts_cents": sum(t[1] for _, t in orders),
            "total_cents": sum(t[2] for _, t in orders),
            "ad_tokens": list(self.cart.ad_tokens),
            "vendor_orders": [
                {
                    "order_id": str(vendor.order_id),
                    "vendor_store_id": str(vendor.id),
                    "status": vendor.status,
                    "payment_status": self.intent_status if vendor.live() else None,
                    "payment_method": self.body.payment_method,
                    "total_cents": totals[2],
                    "balance_due_cents": totals[3],
                    "payment_intent_status": self.intent_status if vendor.live() else None,
                    "payment_intent_method": self.body.payment_method if vendor.live() else None,
                    "ad_token": self._token("store", vendor.id),
                }
                for vendor, totals in orders
            ],
            "items": [
                {
                    "order_id": str(vendor.order_id),
                    "vendor_store_id": str(vendor.id),
                    "product_id": str(line.item.product_id) if line.product else None,
                    "name": _name(line),
                    "category": line.product.category if line.product else None,
                    "strain": line.product.strain if line.product else None,
                    "classification": line.product.classification if line.product else None,
                    "unit": line.item.unit,
                    "moq": line.item.moq,
                    "max_qty": line.item.max_qty,
                    "qty": line.item.quantity,
                    "unit_price_cents": line.item.unit_price_cents,
                    "discount_cents": line.item.line_discounts_cents,
                    "line_subtotal_cents": line.item.line_subtotal_cents,
                    "line_total_cents": line.item.line_total_cents,
                    "status": "rejected" if line.item.id in vendor.rejected else "pending",
                    "warnings": line.item.warnings,
                    "applied_volume_discount": line.item.applied_volume_discount,
                    "ad_token": self._token("product", line.item.product_id),
                }
                for vendor, _ in orders
                for line in vendor.lines
            ],
        }


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
        raise NotFound("no orders for this checkout")  # another buyer's: no probing (issue #17)
    lines = await repository.lines_of(session, [o.id for o, _ in orders])
    by_order: dict[uuid.UUID, list[OrderLineItem]] = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    assigned = await orders_repository.active_assignments(session, [o.id for o, _ in orders])
    first = orders[0][0]
    return Confirmation(
        checkout_group_id=first.checkout_group_id,
        cart_id=first.cart_id,
        vendor_orders=[
            _confirmation_order(o, intent, by_order.get(o.id, []), assigned.get(o.id)) for o, intent in orders
        ],
    )


def _confirmation_order(
    order: VendorOrder,
    intent: PaymentIntent | None,
    lines: Sequence[OrderLineItem],
    assigned: tuple[OrderAssignment, User] | None,
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
        active_assignment=assignment_dto(*assigned).model_dump(mode="json") if assigned else None,
        created_at=order.created_at,
    )
