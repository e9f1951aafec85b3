"""Money arithmetic: integer cents, exact Decimal intermediates, half-up rounding (commerce.md §0, §6.3)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

# Wide enough that cents x percent never loses a digit before the one rounding step.
EXACT = Context(prec=60)


def round_half_up(value: Decimal) -> int:
    """Round a non-negative Decimal to whole cents, halves up (2.5 → 3); never through float."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=EXACT))


def percent_of(cents: int, percent: Decimal) -> Decimal:
    """cents x percent / 100, exactly."""
    return EXACT.divide(EXACT.multiply(Decimal(cents), percent), Decimal(100))


def ratio(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator, exactly enough for one half-up rounding."""
    return EXACT.divide(Decimal(numerator), Decimal(denominator))
