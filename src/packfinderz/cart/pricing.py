"""Quote arithmetic (commerce.md §6.3, §6.4): pure functions on integer cents, rounded once per line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from packfinderz.kit.money import percent_of, ratio, round_half_up


@dataclass(frozen=True)
class Tier:
    """A volume discount: `percent` off the whole line from `min_qty` units up (inclusive)."""

    min_qty: int
    percent: Decimal


@dataclass(frozen=True)
class LinePrice:
    """One priced line."""

    unit_price_cents: int
    quantity: int
    line_subtotal_cents: int
    line_discounts_cents: int
    line_total_cents: int
    effective_unit_price_cents: int
    tier: Tier | None

    def applied_volume_discount(self) -> dict[str, Any] | None:
        """`{label, percent, amount_cents}` of the tier used, or None."""
        if self.tier is None:
            return None
        return {
            "label": f"volume tier {self.tier.min_qty}+",
            "percent": float(self.tier.percent),
            "amount_cents": self.line_discounts_cents,
        }


@dataclass(frozen=True)
class Totals:
    """Totals of a vendor group (or of the whole cart, where line/promo parts are not split)."""

    subtotal_cents: int
    line_discounts_cents: int
    promo_discount_cents: int
    discounts_cents: int
    total_cents: int


def tier_for(quantity: int, tiers: Iterable[Tier]) -> Tier | None:
    """The tier with the largest min_qty not above the quantity."""
    return max((t for t in tiers if t.min_qty <= quantity), key=lambda t: t.min_qty, default=None)


def price_line(price_cents: int, quantity: int, tiers: Iterable[Tier]) -> LinePrice:
    """base x qty, minus the tier's percent of it rounded half-up once (never more than the line)."""
    tier = tier_for(quantity, tiers)
    subtotal = price_cents * quantity
    discount = min(round_half_up(percent_of(subtotal, tier.percent)), subtotal) if tier else 0
    total = subtotal - discount
    return LinePrice(
        unit_price_cents=price_cents,
        quantity=quantity,
        line_subtotal_cents=subtotal,
        line_discounts_cents=discount,
        line_total_cents=total,
        effective_unit_price_cents=round_half_up(ratio(total, quantity)),
        tier=tier,
    )


def group_totals(lines: Sequence[LinePrice], promo_amount_cents: int | None = None) -> Totals:
    """Totals of a vendor's `ok` lines; a valid promo takes a fixed amount off what is left."""
    subtotal = sum(line.line_subtotal_cents for line in lines)
    line_discounts = min(sum(line.line_discounts_cents for line in lines), subtotal)
    promo = 0
    if promo_amount_cents is not None:
        promo = min(max(promo_amount_cents, 0), subtotal - line_discounts)
    discounts = min(line_discounts + promo, subtotal)
    return Totals(subtotal, line_discounts, promo, discounts, subtotal - discounts)


def cart_totals(groups: Sequence[Totals]) -> tuple[int, int, int]:
    """(subtotal, discounts, total) of the cart from its groups."""
    subtotal = sum(g.subtotal_cents for g in groups)
    discounts = min(sum(g.discounts_cents for g in groups), subtotal)
    return subtotal, discounts, sum(g.total_cents for g in groups)
