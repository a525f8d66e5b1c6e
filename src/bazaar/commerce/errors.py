"""Commerce errors, each with its own code (the one error body is built in bazaar.errors)."""

from __future__ import annotations

from typing import Any, ClassVar

from bazaar.errors import ConflictError, InvalidInputError, NotFoundError


class ProductNotFound(NotFoundError):
    code = "product_not_found"
    default_message = "Product not found"


class VariantNotFound(NotFoundError):
    code = "variant_not_found"
    default_message = "Variant not found"


class LocationNotFound(NotFoundError):
    code = "location_not_found"
    default_message = "Stock location not found"


class CartItemNotFound(NotFoundError):
    code = "cart_item_not_found"
    default_message = "Cart item not found"


class SkuTaken(ConflictError):
    code = "sku_taken"
    default_message = "Another variant has that SKU"


class LocationNameTaken(ConflictError):
    code = "location_name_taken"
    default_message = "Another stock location has that name"


class InsufficientStock(ConflictError):
    """`details.available` is the most the line can hold now (what it holds plus what is
    free)."""

    code = "insufficient_stock"
    default_message = "Not enough stock for that quantity"


class StockBelowReserved(ConflictError):
    """`details.reserved` units are held by carts: on hand cannot go below them."""

    code = "stock_below_reserved"
    default_message = "On hand cannot go below what carts hold"


class ProductNotAvailable(ConflictError):
    code = "product_not_available"
    default_message = "The product is not for sale"


class CartEmpty(ConflictError):
    code = "cart_empty"
    default_message = "The cart is empty"


class InvalidPrice(InvalidInputError):
    code = "invalid_price"
    default_message = "The price has more decimal places than the shop's currency"


class CouponCodeTaken(ConflictError):
    code = "coupon_code_taken"
    default_message = "Another coupon has that code"


class CouponNotApplicable(InvalidInputError):
    """`details.reason` says why: `unknown`, `inactive`, `not_started`, `expired`, `tier`
    (`details.required_tier`) or `min_purchase` (`details.min_purchase`)."""

    code = "coupon_not_applicable"
    default_message = "The coupon does not apply to this cart"
    messages: ClassVar[dict[str, str]] = {
        "unknown": "No coupon has that code",
        "inactive": "The coupon is not active",
        "not_started": "The coupon is not valid yet",
        "expired": "The coupon has expired",
        "tier": "The coupon needs a higher loyalty tier",
        "min_purchase": "The cart's subtotal is below the coupon's minimum purchase",
    }

    @classmethod
    def because(cls, reason: str, **details: Any) -> CouponNotApplicable:
        return cls(cls.messages[reason], details={"reason": reason, **details})


class PointsExceedBalance(InvalidInputError):
    """`details.balance` is what the buyer has."""

    code = "points_exceed_balance"
    default_message = "More points than the balance"


class PointsExceedTotal(InvalidInputError):
    """`details.max_points` is the most the cart can take after its other discounts."""

    code = "points_exceed_total"
    default_message = "More points than the cart costs"
