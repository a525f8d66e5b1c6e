"""Commerce's pure calculations: cart totals with their discounts, loyalty tiers and points,
stock status, and the words a search looks for.

Totals are applied in this order (docs/commerce.md): the subtotal is the sum of the lines
(unit price x quantity); the coupon's discount comes off the subtotal; the tier's discount off
what is left; redeemed points off what is left after that, never below zero; tax is the rate on
the discounted amount; shipping is the flat fee unless the subtotal (before discounts, so that
a discount never makes shipping appear) reaches the free-shipping threshold, and nothing for an
empty cart; the total is the discounted amount plus tax and shipping. Every figure is rounded
to the currency's minor unit, half to even, as it is made, so the total is exactly the sum of
the figures a buyer sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from bazaar.config import Settings
from bazaar.money import minor_unit, money_context, quantize


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


class MovementKind(StrEnum):
    """What moved stock. `sold` is written when an order is placed, `returned` when a return's
    units are received back."""

    RECEIVED = "received"
    ADJUSTED = "adjusted"
    RESERVED = "reserved"
    RELEASED = "released"
    SOLD = "sold"
    RETURNED = "returned"


class OrderStatus(StrEnum):
    PLACED = "placed"
    """Paid for by an authorization; the capture makes it `paid`."""
    PAID = "paid"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


ORDER_FLOW = tuple(OrderStatus)
"""Each status moves only to the next; `paid` is reached by capturing the payment, the rest
by staff."""


def next_status(status: OrderStatus) -> OrderStatus | None:
    position = ORDER_FLOW.index(status)
    return ORDER_FLOW[position + 1] if position + 1 < len(ORDER_FLOW) else None


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    RECEIVED = "received"
    """The units are back in stock at a location."""
    REFUNDED = "refunded"
    REJECTED = "rejected"


RETURN_MOVES = {
    ReturnStatus.REQUESTED: (ReturnStatus.APPROVED, ReturnStatus.REJECTED),
    ReturnStatus.APPROVED: (ReturnStatus.RECEIVED,),
    ReturnStatus.RECEIVED: (ReturnStatus.REFUNDED,),
    ReturnStatus.REFUNDED: (),
    ReturnStatus.REJECTED: (),
}


def points_earned(shop: Shop, kept: Decimal) -> int:
    """What an order earns for `kept`, what the buyer paid for the goods they kept: whole points,
    rounded down."""
    with money_context():
        return int(kept * shop.points_earned_per_unit)


def refund_for(
    *, unit_price: Decimal, quantity: int, subtotal: Decimal, paid: Decimal, currency: str
) -> Decimal:
    """What returning `quantity` units of a line gives back: their share of what the goods cost
    after every discount, with tax (the order's total less shipping, which is not refunded),
    rounded half to even."""
    if subtotal == 0:
        return quantize(Decimal(0), currency)
    with money_context():
        return quantize(unit_price * quantity * paid / subtotal, currency)


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"


class Allocation(StrEnum):
    PRIORITY = "priority"
    """Locations in their `priority` order (lowest first)."""
    HIGHEST_STOCK = "highest_stock"
    """The location with the most available first."""


class Tier(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


TIER_DISCOUNT_PERCENT = {Tier.BRONZE: 0, Tier.SILVER: 5, Tier.GOLD: 10, Tier.PLATINUM: 15}
TIERS = tuple(Tier)
"""Lowest first."""


class CouponKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"


class PointsKind(StrEnum):
    """What a loyalty ledger entry records. Earned points and a positive adjustment are lots
    that expire; redeemed and expired points and a negative adjustment are debits (negative).
    Orders write `redeemed` when placed and `earned` once their return window closed, for
    what the buyer kept, so a refund never has points to take back (docs/commerce.md)."""

    EARNED = "earned"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"


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
    tier_points: tuple[int, int, int]
    """Points earned in the last 12 months that reach silver, gold and platinum."""
    points_per_currency_unit: int
    points_valid_days: int
    points_earned_per_unit: Decimal
    """Points an order earns per currency unit paid for its goods."""
    return_days: int

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
            tier_points=(
                settings.loyalty_silver_points,
                settings.loyalty_gold_points,
                settings.loyalty_platinum_points,
            ),
            points_per_currency_unit=settings.loyalty_points_per_currency_unit,
            points_valid_days=settings.loyalty_points_valid_days,
            points_earned_per_unit=settings.loyalty_points_per_currency_unit_spent,
            return_days=settings.commerce_return_days,
        )


@dataclass(frozen=True)
class CouponTerms:
    kind: CouponKind
    value: Decimal
    """A percentage (0-100] or an amount in the shop's currency."""
    min_purchase: Decimal
    max_discount: Decimal | None
    min_tier: Tier
    starts_at: datetime
    ends_at: datetime | None
    active: bool
    uses_left: int | None = None
    """Of its usage limit overall; None when it has none."""
    buyer_uses_left: int | None = None
    """Of its limit per buyer, for the buyer asking; None when it has none."""


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal: Decimal
    coupon_discount: Decimal
    tier: Tier
    tier_discount: Decimal
    points_redeemed: int
    """At most the points asked for: only as many as the amount left after the other
    discounts takes."""
    points_discount: Decimal
    tax: Decimal
    shipping: Decimal
    total: Decimal


def totals(
    shop: Shop,
    lines: Iterable[tuple[Decimal, int]],
    *,
    coupon: CouponTerms | None = None,
    tier: Tier = Tier.BRONZE,
    points: int = 0,
) -> Totals:
    """`lines` are (unit price, quantity); `coupon` is one that applies (`coupon_refusal`)."""
    lines = list(lines)
    with money_context():
        currency = shop.currency
        subtotal = line_sum(shop, lines)
        off_coupon = coupon_discount(coupon, subtotal, currency) if coupon else Decimal(0)
        left = subtotal - off_coupon
        off_tier = quantize(left * TIER_DISCOUNT_PERCENT[tier] / 100, currency)
        left -= off_tier
        used = min(points, int(left * shop.points_per_currency_unit))
        off_points = points_value(shop, used)
        left -= off_points
        tax = quantize(left * shop.tax_rate_percent / 100, currency)
        # An empty cart ships nothing; a cart of free items still ships.
        free = not lines or subtotal >= shop.free_shipping_threshold
        shipping = quantize(Decimal(0) if free else shop.shipping_fee, currency)
        return Totals(
            currency=currency,
            subtotal=subtotal,
            coupon_discount=quantize(off_coupon, currency),
            tier=tier,
            tier_discount=off_tier,
            points_redeemed=used,
            points_discount=off_points,
            tax=tax,
            shipping=shipping,
            total=left + tax + shipping,
        )


def masked_upi(upi_id: str) -> str:
    """A UPI id as a buyer sees it on an order or a saved tender: "upi b***@okbank"."""
    name, bank = upi_id.split("@", 1)
    return f"upi {name[0]}***@{bank}"


def line_sum(shop: Shop, lines: Iterable[tuple[Decimal, int]]) -> Decimal:
    """The subtotal: unit price x quantity over the lines."""
    with money_context():
        return quantize(sum((price * qty for price, qty in lines), Decimal(0)), shop.currency)


def coupon_discount(coupon: CouponTerms, amount: Decimal, currency: str) -> Decimal:
    """The coupon's discount on `amount`: never more than its cap, nor than the amount."""
    if coupon.kind is CouponKind.PERCENTAGE:
        off = quantize(amount * coupon.value / 100, currency)
    else:
        off = quantize(coupon.value, currency)
    if coupon.max_discount is not None:
        off = min(off, coupon.max_discount)
    return min(off, amount)


def points_value(shop: Shop, points: int) -> Decimal:
    """What `points` are worth, rounded down to the minor unit: points never buy more than
    they are worth."""
    with money_context():
        worth = Decimal(points) / shop.points_per_currency_unit
        return worth.quantize(minor_unit(shop.currency), rounding=ROUND_DOWN)


def coupon_refusal(coupon: CouponTerms, *, subtotal: Decimal, tier: Tier, now: datetime) -> str:
    """Why the coupon does not apply to a cart of `subtotal` for a buyer of `tier` at `now`,
    or "" when it does. The reasons are `CouponNotApplicable`'s."""
    if not coupon.active:
        return "inactive"
    if now < coupon.starts_at:
        return "not_started"
    if coupon.ends_at is not None and now >= coupon.ends_at:
        return "expired"
    if coupon.uses_left == 0:
        return "usage_limit"
    if coupon.buyer_uses_left == 0:
        return "customer_limit"
    if TIERS.index(tier) < TIERS.index(coupon.min_tier):
        return "tier"
    if subtotal < coupon.min_purchase:
        return "min_purchase"
    return ""


def tier_for(shop: Shop, points_last_year: int) -> Tier:
    """The highest tier whose threshold the points earned in the last 12 months reach."""
    reached = Tier.BRONZE
    for tier, threshold in zip(TIERS[1:], shop.tier_points, strict=True):
        if points_last_year >= threshold:
            reached = tier
    return reached


def points_to_expire(*, credits_expiring: int, debits: int) -> int:
    """How many points are due to expire by some date, given the credited points that expire
    by then and every point spent or expired so far (a positive count). Spending
    uses the oldest points first, and the oldest expire first, so the debits have used up
    those lots before any later one: what they have not covered expires."""
    return max(0, credits_expiring - debits)


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
