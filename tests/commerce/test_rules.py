"""Totals, stock status and the typo distance, as pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bazaar.commerce.rules import (
    StockStatus,
    corrections,
    edit_distance,
    stock_status,
    totals,
    words,
)
from bazaar.money import quantize
from tests.commerce.shops import shop


@pytest.mark.parametrize(
    ("lines", "subtotal", "tax", "shipping", "total"),
    [
        ([], "0.00", "0.00", "0.00", "0.00"),
        ([("100.00", 2)], "200.00", "16.00", "50.00", "266.00"),
        ([("499.99", 1)], "499.99", "40.00", "50.00", "589.99"),  # 39.9992 -> 40.00
        ([("500.00", 1)], "500.00", "40.00", "0.00", "540.00"),  # the threshold ships free
        ([("0.31", 1)], "0.31", "0.02", "50.00", "50.33"),  # 0.0248 -> 0.02
        ([("0.3125", 2)], "0.62", "0.05", "50.00", "50.67"),  # 0.625 -> 0.62, 0.0496 -> 0.05
        ([("10.00", 3), ("2.50", 4)], "40.00", "3.20", "50.00", "93.20"),
    ],
)
def test_golden_totals(
    lines: list[tuple[str, int]], subtotal: str, tax: str, shipping: str, total: str
) -> None:
    found = totals(shop(), [(Decimal(price), qty) for price, qty in lines])
    assert (found.subtotal, found.tax, found.shipping, found.total) == (
        Decimal(subtotal),
        Decimal(tax),
        Decimal(shipping),
        Decimal(total),
    )


def test_tax_rounds_half_to_even() -> None:
    # 12.5 % of 0.20 is 0.025: to the even cent, 0.02, where half-up would say 0.03.
    found = totals(shop(tax_rate_percent=Decimal("12.5")), [(Decimal("0.20"), 1)])
    assert found.tax == Decimal("0.02")
    found = totals(shop(tax_rate_percent=Decimal("12.5")), [(Decimal("0.60"), 1)])
    assert found.tax == Decimal("0.08")  # 0.075 -> 0.08 (even)


def test_yen_totals_have_no_minor_unit() -> None:
    found = totals(shop("JPY", shipping_fee=Decimal("500")), [(Decimal("333"), 1)])
    assert (found.tax, found.shipping, found.total) == (
        Decimal("27"),
        Decimal("500"),
        Decimal("860"),
    )


prices = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
rates = st.decimals(min_value=0, max_value=100, places=4)


@given(
    lines=st.lists(st.tuples(prices, st.integers(1, 10_000)), max_size=20),
    rate=rates,
    fee=prices,
    threshold=prices,
)
def test_total_is_exactly_the_sum_of_its_figures(
    lines: list[tuple[Decimal, int]], rate: Decimal, fee: Decimal, threshold: Decimal
) -> None:
    terms = shop(tax_rate_percent=rate, shipping_fee=fee, free_shipping_threshold=threshold)
    found = totals(terms, lines)
    assert found.total == found.subtotal + found.tax + found.shipping
    for figure in (found.subtotal, found.tax, found.shipping, found.total):
        assert figure >= 0
        assert quantize(figure) == figure
        assert figure.as_tuple().exponent == -2
    assert found.subtotal == sum((p * q for p, q in lines), Decimal(0))
    assert found.shipping == (0 if not lines or found.subtotal >= threshold else fee)


@pytest.mark.parametrize(
    ("available", "status"),
    [
        (0, StockStatus.OUT_OF_STOCK),
        (1, StockStatus.LOW_STOCK),
        (5, StockStatus.LOW_STOCK),
        (6, StockStatus.IN_STOCK),
    ],
)
def test_stock_status(available: int, status: StockStatus) -> None:
    assert stock_status(available, 5) is status


def test_a_swap_is_one_edit() -> None:
    assert edit_distance("lapotp", "laptop") == 1
    assert edit_distance("laptop", "laptop") == 0
    assert edit_distance("", "abc") == 3
    assert corrections("lapotp", ["laptop", "lamp", "laptops", "desktop"]) == ["laptop"]
    assert corrections("tv", ["tc"]) == []  # too short to guess


words_ = st.text(alphabet="abcdefgh", max_size=8)


@given(a=words_, b=words_)
def test_distance_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert edit_distance(a, b) == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))
    assert (edit_distance(a, b) == 0) == (a == b)


def test_query_words() -> None:
    assert words("Aero 14-inch LAPTOP, laptop_pro!") == ["aero", "14", "inch", "laptop", "pro"]
