"""Quote arithmetic (commerce.md §6.3-§6.5): the worked example and properties over random carts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from packfinderz.cart.pricing import Tier, cart_totals, group_totals, price_line, tier_for
from packfinderz.kit.money import round_half_up

P1_TIERS = (Tier(10, Decimal("10")), Tier(25, Decimal("15")))
P3_TIERS = (Tier(3, Decimal("10")),)


def test_worked_example_lines() -> None:
    p1 = price_line(1000, 12, P1_TIERS)
    assert (p1.line_subtotal_cents, p1.line_discounts_cents, p1.line_total_cents) == (12_000, 1_200, 10_800)
    assert p1.effective_unit_price_cents == 900
    assert p1.applied_volume_discount() == {"label": "volume tier 10+", "percent": 10.0, "amount_cents": 1200}
    p2 = price_line(2500, 2, ())
    assert (p2.line_subtotal_cents, p2.line_discounts_cents, p2.line_total_cents) == (5_000, 0, 5_000)
    assert p2.applied_volume_discount() is None
    # 2.5 rounds half-up once per line to 3 (not banker's 2, not 1 per unit x 5).
    p3 = price_line(5, 5, P3_TIERS)
    assert (p3.line_subtotal_cents, p3.line_discounts_cents, p3.line_total_cents) == (25, 3, 22)
    assert p3.effective_unit_price_cents == 4  # 22 / 5 = 4.4

    group_a = group_totals([p1, p2], promo_amount_cents=None)
    assert (group_a.subtotal_cents, group_a.discounts_cents, group_a.total_cents) == (17_000, 1_200, 15_800)
    group_b = group_totals([p3])
    assert (group_b.subtotal_cents, group_b.discounts_cents, group_b.total_cents) == (25, 3, 22)
    assert cart_totals([group_a, group_b]) == (17_025, 1_203, 15_822)


def test_half_up_rounding_is_exact() -> None:
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("2.4999999999999999999999")) == 2
    assert round_half_up(Decimal("0.5")) == 1
    assert round_half_up(Decimal("1234567890123.5")) == 1234567890124


def test_tier_boundaries_are_inclusive() -> None:
    assert tier_for(9, P1_TIERS) is None
    assert tier_for(10, P1_TIERS) == P1_TIERS[0]
    assert tier_for(24, P1_TIERS) == P1_TIERS[0]
    assert tier_for(25, P1_TIERS) == P1_TIERS[1]
    assert price_line(1000, 25, P1_TIERS).line_discounts_cents == 3750


def test_promo_is_bounded_by_what_is_left() -> None:
    line = price_line(100, 10, (Tier(1, Decimal("50")),))
    totals = group_totals([line], promo_amount_cents=10_000)
    assert (totals.line_discounts_cents, totals.promo_discount_cents, totals.total_cents) == (500, 500, 0)
    assert group_totals([line], promo_amount_cents=-5).promo_discount_cents == 0


percents = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100"), places=4)
tiers = st.lists(st.builds(Tier, st.integers(1, 200), percents), max_size=4, unique_by=lambda t: t.min_qty)
lines = st.tuples(st.integers(0, 10**9), st.integers(1, 500), tiers)


def _exact_half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@given(st.lists(lines, min_size=1, max_size=8), st.none() | st.integers(-100, 10**6))
def test_pricing_properties(carts: list[tuple[int, int, list[Tier]]], promo: int | None) -> None:
    priced = []
    for price, qty, line_tiers in carts:
        line = price_line(price, qty, line_tiers)
        priced.append(line)
        chosen = [t for t in line_tiers if t.min_qty <= qty]
        expected_tier = max(chosen, key=lambda t: t.min_qty) if chosen else None
        assert line.tier == expected_tier  # inclusive boundary, largest min_qty wins
        assert line.line_subtotal_cents == price * qty
        expected_discount = 0
        if expected_tier is not None:
            raw = Fraction(price * qty) * Fraction(expected_tier.percent) / 100
            expected_discount = min(_exact_half_up(raw), price * qty)
        assert line.line_discounts_cents == expected_discount  # one half-up rounding of the exact value
        assert 0 <= line.line_discounts_cents <= line.line_subtotal_cents
        assert line.line_total_cents == line.line_subtotal_cents - line.line_discounts_cents
        assert line.effective_unit_price_cents == _exact_half_up(Fraction(line.line_total_cents, qty))
    group = group_totals(priced, promo)
    assert group.subtotal_cents == sum(p.line_subtotal_cents for p in priced)
    assert group.line_discounts_cents == sum(p.line_discounts_cents for p in priced)
    assert 0 <= group.discounts_cents <= group.subtotal_cents
    assert group.total_cents == sum(p.line_total_cents for p in priced) - group.promo_discount_cents
    subtotal, discounts, total = cart_totals([group, group])
    assert (subtotal, total) == (2 * group.subtotal_cents, 2 * group.total_cents)
    assert 0 <= discounts <= subtotal
