"""Commerce's pure calculations: cart totals, stock status, and the words a search looks for.

Totals are applied in this order (docs/commerce.md): the subtotal is the sum of the lines
(unit price x quantity, each in the currency's minor unit); tax is the rate on the subtotal
(the discounted amount, once discounts exist); shipping is the flat fee unless the subtotal
reaches the free-shipping threshold (and nothing for an empty cart); the total is their sum.
Every figure is rounded to the currency's minor unit, half to even, as it is made, so the
total is exactly the sum of the figures a buyer sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bazaar.config import Settings
from bazaar.money import money_context, quantize


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


class MovementKind(StrEnum):
    """What moved stock. `sold` and `returned` are written by orders and returns, which are
    not there yet (docs/commerce.md); the column takes them already."""

    RECEIVED = "received"
    ADJUSTED = "adjusted"
    RESERVED = "reserved"
    RELEASED = "released"
    SOLD = "sold"
    RETURNED = "returned"


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"


class Allocation(StrEnum):
    PRIORITY = "priority"
    """Locations in their `priority` order (lowest first)."""
    HIGHEST_STOCK = "highest_stock"
    """The location with the most available first."""


@dataclass(frozen=True)
class Shop:
    """The shop's terms, from settings."""

    currency: str
    tax_rate_percent: Decimal
    shipping_fee: Decimal
    free_shipping_threshold: Decimal
    hold_minutes: float
    low_stock_threshold: int
    allocation: Allocation

    @classmethod
    def from_settings(cls, settings: Settings) -> Shop:
        return cls(
            currency=settings.currency,
            tax_rate_percent=settings.commerce_tax_rate_percent,
            shipping_fee=quantize(settings.commerce_shipping_fee, settings.currency),
            free_shipping_threshold=settings.commerce_free_shipping_threshold,
            hold_minutes=settings.commerce_hold_minutes,
            low_stock_threshold=settings.commerce_low_stock_threshold,
            allocation=Allocation(settings.commerce_allocation),
        )


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal: Decimal
    tax: Decimal
    shipping: Decimal
    total: Decimal


def totals(shop: Shop, lines: Iterable[tuple[Decimal, int]]) -> Totals:
    """`lines` are (unit price, quantity)."""
    with money_context():
        currency = shop.currency
        subtotal = quantize(sum((price * qty for price, qty in lines), Decimal(0)), currency)
        tax = quantize(subtotal * shop.tax_rate_percent / 100, currency)
        free = subtotal == 0 or subtotal >= shop.free_shipping_threshold
        shipping = quantize(Decimal(0) if free else shop.shipping_fee, currency)
        return Totals(currency, subtotal, tax, shipping, subtotal + tax + shipping)


def stock_status(available: int, low_stock_threshold: int) -> StockStatus:
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    if available <= low_stock_threshold:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


# Letters and digits, as both full-text indexes split text (FTS5's unicode61 and PostgreSQL's
# 'simple' configuration): an underscore or hyphen separates words.
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 8


def words(text: str) -> list[str]:
    """The distinct lower-case words of a query, in order, at most MAX_QUERY_WORDS."""
    found = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return list(found)[:MAX_QUERY_WORDS]


def typos_allowed(word: str) -> int:
    """How far a catalog word may be from a query word to count as its typo: none for short
    words, where one edit reaches too many others."""
    if len(word) < 4:
        return 0
    return 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    two neighbours ("lapotp" is one swap from "laptop")."""
    previous: list[int] = []
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        before, previous, row = previous, row, [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[len(b)]


def corrections(word: str, vocabulary: Iterable[str]) -> list[str]:
    """The catalog words within `typos_allowed(word)` edits of `word`, closest first."""
    allowed = typos_allowed(word)
    if allowed == 0:
        return []
    near = [(d, term) for term in vocabulary if (d := edit_distance(word, term)) <= allowed]
    return [term for _, term in sorted(near)]
