"""Cart quote rules (commerce.md §6): per-item checks as warnings, pricing, vendor groups, persistence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from packfinderz.ads import tokens as ad_tokens
from packfinderz.auth.deps import StoreCtx
from packfinderz.cart import repository
from packfinderz.cart.pricing import LinePrice, Totals, cart_totals, group_totals, price_line
from packfinderz.cart.repository import ProductFacts
from packfinderz.cart.schemas import CartQuote, CartQuoteIn
from packfinderz.kit.errors import NotFound, ValidationFailed
from packfinderz.kit.schemas import address_of
from packfinderz.models.cart import CartItem, CartRecord, CartVendorGroup
from packfinderz.models.identity import Store
from packfinderz.stores.service import vendor_visible_to_buyer


def warning(kind: str, message: str) -> dict[str, str]:
    return {"type": kind, "message": message}


def vendor_problem(vendor: Store, buyer: Store) -> str | None:
    """None when the vendor passes the gate of commerce.md §3 for this buyer, else why (never shown to it)."""
    if vendor_visible_to_buyer(vendor, buyer):
        return None
    if vendor.kyc_status == "suspended":
        return "vendor_suspended"
    if vendor.kyc_status != "verified":
        return "license_invalid"
    if vendor.type == "vendor" and vendor.subscription_active and vendor.address_state == buyer.address_state:
        return "out_of_delivery_radius"
    return "vendor_invalid"


@dataclass
class _Line:
    product: ProductFacts
    vendor: Store
    quantity: int
    status: str = "ok"
    warnings: list[dict[str, str]] = field(default_factory=list)
    price: LinePrice | None = None


UNAVAILABLE = warning("vendor_unavailable", "vendor is not available")


def _check_line(line: _Line, problem: str | None) -> None:
    """Steps 2-5 of the per-item pipeline, in warning order: clamps, then mismatch or availability.

    A line that names a vendor the buyer may not see (or a product that vendor does not sell) is `invalid`
    and says nothing about the product: no clamps, no title, no price (issue #17, commerce.md §3).
    """
    product = line.product
    if problem is not None:
        line.status = "invalid"
        line.warnings.append(UNAVAILABLE)
        return
    if product.store_id != line.vendor.id:
        line.status = "invalid"
        line.warnings.append(warning("vendor_mismatch", "product is not sold by this vendor"))
        return
    if line.quantity < product.moq:
        line.quantity = product.moq
        line.warnings.append(
            warning("clamped_to_moq", f"quantity raised to the minimum order of {product.moq}")
        )
    if product.max_qty > 0 and line.quantity > product.max_qty:
        line.quantity = product.max_qty
        line.warnings.append(
            warning("clamped_to_max", f"quantity lowered to the maximum of {product.max_qty}")
        )
    if not product.is_active:
        line.status = "not_available"
        line.warnings.append(warning("not_available", "product is no longer available"))
    elif product.available_qty is None or product.available_qty < line.quantity:
        line.status = "not_available"
        available = product.available_qty or 0
        line.warnings.append(
            warning("not_available", f"only {available} available, {line.quantity} requested")
        )
    line.price = price_line(product.price_cents, line.quantity, product.tiers)


def _promo_problems(body: CartQuoteIn) -> dict[str, str]:
    vendors = {line.vendor_store_id for line in body.items}
    seen: set[uuid.UUID] = set()
    problems: dict[str, str] = {}
    for index, promo in enumerate(body.vendor_promos or []):
        if promo.vendor_store_id not in vendors:
            problems[f"vendor_promos.{index}.vendor_store_id"] = "has no items in this cart"
        elif promo.vendor_store_id in seen:
            problems[f"vendor_promos.{index}.vendor_store_id"] = "one promo per vendor"
        seen.add(promo.vendor_store_id)
    return problems


async def quote(session: AsyncSession, ctx: StoreCtx, body: CartQuoteIn, ads_secret: str) -> CartQuote:
    """Price the whole cart and store it as the buyer's active cart (never touches inventory)."""
    problems = _promo_problems(body)
    if problems:
        raise ValidationFailed(details=problems)
    merged: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for item in body.items:
        key = (item.product_id, item.vendor_store_id)
        merged[key] = merged.get(key, 0) + item.quantity
    products = await repository.products_for_quote(session, {p for p, _ in merged})
    if len(products) != len({p for p, _ in merged}):
        raise NotFound("product not found")
    vendors = await repository.stores_by_ids(session, {v for _, v in merged})
    if len(vendors) != len({v for _, v in merged}) or any(v.type != "vendor" for v in vendors.values()):
        raise NotFound("vendor not found")

    buyer = ctx.store
    problem_of = {vendor_id: vendor_problem(vendor, buyer) for vendor_id, vendor in vendors.items()}
    lines: list[_Line] = []
    for (product_id, vendor_id), quantity in merged.items():
        line = _Line(products[product_id], vendors[vendor_id], quantity)
        _check_line(line, problem_of[vendor_id])
        lines.append(line)

    promo_codes = {p.vendor_store_id: p.code for p in body.vendor_promos or []}
    group_rows, group_totals_list = _groups(lines, problem_of, promo_codes)
    subtotal, discounts, total = cart_totals(group_totals_list)
    tokens = ad_tokens.for_buyer(body.ad_tokens or [], ads_secret, buyer.id)
    cart = await repository.upsert_active_cart(
        session,
        buyer.id,
        {
            "shipping_address": address_of(buyer).model_dump(mode="json"),
            "subtotal_cents": subtotal,
            "discounts_cents": discounts,
            "total_cents": total,
            "ad_tokens": [t.raw for t in tokens],
        },
    )
    old_prices = await repository.clear_cart(session, cart.id)
    item_rows = [_item_row(cart.id, position, line, old_prices) for position, line in enumerate(lines)]
    items = await repository.insert_items(session, item_rows)
    groups = await repository.insert_groups(session, [{**row, "cart_id": cart.id} for row in group_rows])
    return cart_quote(cart, groups, items)


def _groups(
    lines: Sequence[_Line], problem_of: dict[uuid.UUID, str | None], promo_codes: dict[uuid.UUID, str]
) -> tuple[list[dict[str, Any]], list[Totals]]:
    """One group per vendor, in order of first appearance; totals over its `ok` items only."""
    by_vendor: dict[uuid.UUID, list[_Line]] = {}
    for line in lines:
        by_vendor.setdefault(line.vendor.id, []).append(line)
    rows: list[dict[str, Any]] = []
    all_totals: list[Totals] = []
    for vendor_id, vendor_lines in by_vendor.items():
        ok = [line.price for line in vendor_lines if line.status == "ok" and line.price is not None]
        warnings: list[dict[str, str]] = []
        problem = problem_of[vendor_id]
        if problem is not None:
            # One reason for every hidden vendor: suspension, licensing and radius are the vendor's
            # business, not the buyer's (issue #17).
            warnings.append(UNAVAILABLE)
        elif not ok:
            warnings.append(warning("vendor_invalid", "no valid items for vendor"))
        code = promo_codes.get(vendor_id)
        if code is not None:
            # No vendor promo codes exist yet (commerce.md §13): every code is reported invalid.
            warnings.append(warning("invalid_promo", f"promo code {code} is not valid"))
        totals = group_totals(ok)
        all_totals.append(totals)
        rows.append(
            {
                "vendor_store_id": vendor_id,
                "status": "ok" if ok else "invalid",
                "warnings": warnings,
                "subtotal_cents": totals.subtotal_cents,
                "line_discounts_cents": totals.line_discounts_cents,
                "promo": None,
                "promo_discount_cents": totals.promo_discount_cents,
                "discounts_cents": totals.discounts_cents,
                "total_cents": totals.total_cents,
            }
        )
    return rows, all_totals


def _item_row(
    cart_id: uuid.UUID, position: int, line: _Line, old_prices: dict[uuid.UUID, int]
) -> dict[str, Any]:
    product = line.product
    if line.status == "invalid":  # only the ids and the reason (issue #17)
        return {
            "cart_id": cart_id,
            "position": position,
            "product_id": product.id,
            "vendor_store_id": line.vendor.id,
            "vendor_store_name": "",
            "title": "",
            "thumbnail": None,
            "unit": "",
            "moq": 1,
            "max_qty": None,
            "quantity": line.quantity,
            "unit_price_cents": 0,
            "effective_unit_price_cents": 0,
            "line_subtotal_cents": 0,
            "line_discounts_cents": 0,
            "line_total_cents": 0,
            "applied_volume_discount": None,
            "status": line.status,
            "warnings": line.warnings,
        }
    price = line.price
    assert price is not None
    before = old_prices.get(product.id)
    if before is not None and before != price.unit_price_cents:
        line.warnings.append(
            warning("price_changed", f"unit price changed from {before} to {price.unit_price_cents} cents")
        )
    return {
        "cart_id": cart_id,
        "position": position,
        "product_id": product.id,
        "vendor_store_id": line.vendor.id,
        "vendor_store_name": line.vendor.company_name,
        "title": product.title,
        "thumbnail": product.thumbnail,
        "unit": product.unit,
        "moq": product.moq,
        "max_qty": product.max_qty or None,
        "quantity": line.quantity,
        "unit_price_cents": price.unit_price_cents,
        "effective_unit_price_cents": price.effective_unit_price_cents,
        "line_subtotal_cents": price.line_subtotal_cents,
        "line_discounts_cents": price.line_discounts_cents,
        "line_total_cents": price.line_total_cents,
        "applied_volume_discount": price.applied_volume_discount(),
        "status": line.status,
        "warnings": line.warnings,
    }


def cart_quote(cart: CartRecord, groups: Sequence[CartVendorGroup], items: Sequence[CartItem]) -> CartQuote:
    """The CartQuote body: groups in order of their vendor's first item, items in request order."""
    first_seen: dict[uuid.UUID, int] = {}
    for item in items:
        first_seen.setdefault(item.vendor_store_id, item.position)
    ordered_groups = sorted(groups, key=lambda g: first_seen.get(g.vendor_store_id, len(items)))
    return CartQuote.model_validate(
        {
            **{column: getattr(cart, column) for column in CartRecord.__table__.columns.keys()},  # noqa: SIM118
            "vendor_groups": [_columns(g) for g in ordered_groups],
            "items": [_columns(i) for i in sorted(items, key=lambda i: i.position)],
        }
    )


def _columns(row: CartItem | CartVendorGroup) -> dict[str, Any]:
    return {column: getattr(row, column) for column in type(row).__table__.columns.keys()}  # noqa: SIM118


async def current_quote(session: AsyncSession, ctx: StoreCtx) -> CartQuote:
    """The buyer's active cart as last quoted (`valid_until` is not extended); none → 404."""
    cart = await repository.active_cart(session, ctx.store_id)
    if cart is None:
        raise NotFound("no active cart")
    groups, items = await repository.cart_contents(session, cart.id)
    return cart_quote(cart, groups, items)
