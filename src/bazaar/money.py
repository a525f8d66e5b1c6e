"""Exact money arithmetic.

Amounts are `Decimal` quantized to the currency's minor unit with ROUND_HALF_EVEN.
`money_context()` turns on the `FloatOperation` trap so that a float sneaking into a
money calculation raises instead of silently losing cents.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# ISO 4217 minor units for the currencies Bazaar is used with; everything else has 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3}
MAX_PLACES = max(_MINOR_UNITS.values())
"""The most decimal places any currency's amounts have (what money columns store exactly)."""


def places(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-places(currency))


def quantize(amount: Decimal, currency: str = "INR") -> Decimal:
    """Round to the currency's minor unit, banker's rounding."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)


def fits(amount: Decimal, currency: str) -> bool:
    """True when `amount` is a whole number of the currency's minor units (100.50 is no yen)."""
    return quantize(amount, currency) == amount


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` written with exactly the currency's places, as the API answers it: JPY 1200,
    INR 1200.00, KWD 1200.000. Never rounds: an amount finer than the currency (stored before
    inputs were checked) keeps its places."""
    return quantize(amount, currency) if fits(amount, currency) else amount


@contextmanager
def money_context(precision: int = 34) -> Iterator[decimal.Context]:
    """A local decimal context with high precision and the float trap on."""
    with decimal.localcontext() as ctx:
        ctx.prec = precision
        ctx.traps[decimal.FloatOperation] = True
        yield ctx
