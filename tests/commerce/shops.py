"""The shop's terms for pure tests of commerce's rules: the settings' defaults unless told."""

from __future__ import annotations

from decimal import Decimal

from bazaar.commerce.rules import Allocation, Shop


def shop(currency: str = "INR", **terms: object) -> Shop:
    defaults: dict[str, object] = {
        "currency": currency,
        "tax_rate_percent": Decimal("8"),
        "shipping_fee": Decimal("50.00"),
        "free_shipping_threshold": Decimal("500.00"),
        "hold_minutes": 15,
        "low_stock_threshold": 5,
        "allocation": Allocation.PRIORITY,
        "tier_points": (1_000, 5_000, 15_000),
        "points_per_currency_unit": 100,
        "points_valid_days": 365,
        "points_earned_per_unit": Decimal(1),
        "return_days": 30,
    }
    return Shop(**{**defaults, **terms})  # type: ignore[arg-type]
