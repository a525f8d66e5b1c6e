"""Discounts in the totals, tiers, coupon eligibility and points expiry, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bazaar.commerce.rules import (
    CouponKind,
    CouponTerms,
    Tier,
    coupon_refusal,
    points_to_expire,
    points_value,
    tier_for,
    totals,
)
from bazaar.money import quantize
from tests.commerce.shops import shop

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def coupon(
    kind: CouponKind = CouponKind.PERCENTAGE,
    value: str = "10",
    *,
    max_discount: str | None = None,
    min_purchase: str = "0",
    min_tier: Tier = Tier.BRONZE,
    starts_at: datetime = NOW - timedelta(days=1),
    ends_at: datetime | None = None,
    active: bool = True,
) -> CouponTerms:
    return CouponTerms(
        kind=kind,
        value=Decimal(value),
        min_purchase=Decimal(min_purchase),
        max_discount=None if max_discount is None else Decimal(max_discount),
        min_tier=min_tier,
        starts_at=starts_at,
        ends_at=ends_at,
        active=active,
    )


# (coupon, tier, points asked) -> (coupon off, tier off, points used, points off, tax, shipping,
# total), on one line of 1,000.00 with 8 % tax and free shipping from 500.00.
@pytest.mark.parametrize(
    ("terms", "tier", "points", "expected"),
    [
        (None, Tier.BRONZE, 0, ("0.00", "0.00", 0, "0.00", "80.00", "0.00", "1080.00")),
        (coupon(), Tier.BRONZE, 0, ("100.00", "0.00", 0, "0.00", "72.00", "0.00", "972.00")),
        (None, Tier.GOLD, 0, ("0.00", "100.00", 0, "0.00", "72.00", "0.00", "972.00")),
        # The tier's 15 % is of what the coupon left: 900.00 -> 135.00.
        (coupon(), Tier.PLATINUM, 0, ("100.00", "135.00", 0, "0.00", "61.20", "0.00", "826.20")),
        # 5,000 points are 50.00, off after the coupon and the tier (5 % of 900.00 = 45.00).
        (
            coupon(),
            Tier.SILVER,
            5_000,
            ("100.00", "45.00", 5_000, "50.00", "64.40", "0.00", "869.40"),
        ),
        (
            coupon(CouponKind.FIXED, "150.00"),
            Tier.BRONZE,
            0,
            ("150.00", "0.00", 0, "0.00", "68.00", "0.00", "918.00"),
        ),
        # 50 % capped at 200.00.
        (
            coupon(value="50", max_discount="200.00"),
            Tier.BRONZE,
            0,
            ("200.00", "0.00", 0, "0.00", "64.00", "0.00", "864.00"),
        ),
        # Points beyond what is left pay for all of it, and no more: 90,000 of 200,000 are used.
        (
            coupon(),
            Tier.BRONZE,
            200_000,
            ("100.00", "0.00", 90_000, "900.00", "0.00", "0.00", "0.00"),
        ),
        # A fixed coupon larger than the cart takes the subtotal, never below zero.
        (
            coupon(CouponKind.FIXED, "5000.00"),
            Tier.GOLD,
            100,
            ("1000.00", "0.00", 0, "0.00", "0.00", "0.00", "0.00"),
        ),
    ],
)
def test_golden_discounts(
    terms: CouponTerms | None,
    tier: Tier,
    points: int,
    expected: tuple[str, str, int, str, str, str, str],
) -> None:
    found = totals(shop(), [(Decimal("1000.00"), 1)], coupon=terms, tier=tier, points=points)
    assert (
        str(found.coupon_discount),
        str(found.tier_discount),
        found.points_redeemed,
        str(found.points_discount),
        str(found.tax),
        str(found.shipping),
        str(found.total),
    ) == expected


def test_a_discount_never_makes_shipping_appear() -> None:
    # 520.00 ships free; a 10 % coupon takes it to 468.00 of goods, which still ships free.
    found = totals(shop(), [(Decimal("520.00"), 1)], coupon=coupon())
    assert (found.coupon_discount, found.shipping) == (Decimal("52.00"), Decimal("0.00"))


def test_points_never_buy_more_than_they_are_worth() -> None:
    assert points_value(shop(), 150) == Decimal("1.50")
    assert points_value(shop("JPY"), 150) == Decimal("1")  # 1.5 yen rounds down, not to even 2
    assert points_value(shop(points_per_currency_unit=3), 1) == Decimal("0.33")


@pytest.mark.parametrize(
    ("points", "tier"),
    [
        (0, Tier.BRONZE),
        (999, Tier.BRONZE),
        (1_000, Tier.SILVER),
        (5_000, Tier.GOLD),
        (14_999, Tier.GOLD),
        (15_000, Tier.PLATINUM),
        (10**9, Tier.PLATINUM),
    ],
)
def test_tier_thresholds(points: int, tier: Tier) -> None:
    assert tier_for(shop(), points) is tier


@pytest.mark.parametrize(
    ("terms", "subtotal", "tier", "reason"),
    [
        (coupon(), "10.00", Tier.BRONZE, ""),
        (coupon(active=False), "10.00", Tier.BRONZE, "inactive"),
        (coupon(starts_at=NOW + timedelta(seconds=1)), "10.00", Tier.BRONZE, "not_started"),
        (coupon(ends_at=NOW), "10.00", Tier.BRONZE, "expired"),
        (coupon(ends_at=NOW + timedelta(seconds=1)), "10.00", Tier.BRONZE, ""),
        (coupon(min_tier=Tier.GOLD), "10.00", Tier.SILVER, "tier"),
        (coupon(min_tier=Tier.GOLD), "10.00", Tier.PLATINUM, ""),
        (coupon(min_purchase="999.00"), "998.99", Tier.BRONZE, "min_purchase"),
        (coupon(min_purchase="999.00"), "999.00", Tier.BRONZE, ""),
    ],
)
def test_why_a_coupon_does_not_apply(
    terms: CouponTerms, subtotal: str, tier: Tier, reason: str
) -> None:
    assert coupon_refusal(terms, subtotal=Decimal(subtotal), tier=tier, now=NOW) == reason


def test_spending_uses_the_oldest_points_first() -> None:
    # 300 points expire in January, 500 in June; 200 were spent: 100 of January's are left to
    # expire in January, and all of June's in June (the spending did not touch them).
    assert points_to_expire(credits_expiring=300, debits=200) == 100
    assert points_to_expire(credits_expiring=800, debits=200 + 100) == 500
    assert points_to_expire(credits_expiring=300, debits=450) == 0


prices = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
coupons = st.one_of(
    st.none(),
    st.builds(
        coupon,
        kind=st.sampled_from(CouponKind),
        value=st.decimals(min_value=Decimal("0.01"), max_value=100, places=2).map(str),
        max_discount=st.one_of(st.none(), prices.map(str)),
    ),
)


@given(
    lines=st.lists(st.tuples(prices, st.integers(1, 100)), max_size=10),
    terms=coupons,
    tier=st.sampled_from(Tier),
    points=st.integers(0, 10**9),
    rate=st.decimals(min_value=0, max_value=100, places=4),
)
def test_total_is_subtotal_less_discounts_plus_tax_and_shipping(
    lines: list[tuple[Decimal, int]],
    terms: CouponTerms | None,
    tier: Tier,
    points: int,
    rate: Decimal,
) -> None:
    found = totals(shop(tax_rate_percent=rate), lines, coupon=terms, tier=tier, points=points)
    discounts = found.coupon_discount + found.tier_discount + found.points_discount
    assert found.total == found.subtotal - discounts + found.tax + found.shipping
    assert discounts <= found.subtotal
    assert 0 <= found.points_redeemed <= points
    assert found.points_discount == points_value(shop(), found.points_redeemed)
    for figure in (found.coupon_discount, found.tier_discount, found.tax, found.total):
        assert figure >= 0
        assert quantize(figure) == figure
