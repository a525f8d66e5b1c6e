"""Commerce errors, each with its own code (the one error body is built in bazaar.errors)."""

from __future__ import annotations

from typing import Any, ClassVar

from bazaar.errors import (
    AppError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)


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
    """`details.reason` says why: `unknown`, `inactive`, `not_started`, `expired`,
    `usage_limit`, `customer_limit`, `tier` (`details.required_tier`) or `min_purchase`
    (`details.min_purchase`)."""

    code = "coupon_not_applicable"
    default_message = "The coupon does not apply to this cart"
    messages: ClassVar[dict[str, str]] = {
        "unknown": "No coupon has that code",
        "inactive": "The coupon is not active",
        "not_started": "The coupon is not valid yet",
        "expired": "The coupon has expired",
        "usage_limit": "The coupon has been used as often as it may be",
        "customer_limit": "You have used the coupon as often as you may",
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


class CheckoutNotFound(NotFoundError):
    code = "checkout_not_found"
    default_message = "Checkout session not found"


class OrderNotFound(NotFoundError):
    code = "order_not_found"
    default_message = "Order not found"


class CheckoutExpired(ConflictError):
    """Its holds may be gone: check out again."""

    code = "checkout_expired"
    default_message = "The checkout session has expired; check out again"


class CheckoutStale(ConflictError):
    """A line of the session was changed or removed in the cart since, or lost its hold."""

    code = "checkout_stale"
    default_message = "The cart changed since checkout; check out again"


class CheckoutAlreadyOrdered(ConflictError):
    """`details.order_id` and `details.number` name the order placed from it."""

    code = "checkout_already_ordered"
    default_message = "An order was already placed from this checkout session"


class PaymentDeclined(AppError):
    """`details.reason` is the gateway's (`card_declined`, `insufficient_funds`, ...). No
    order was made; the cart and its holds are as they were."""

    code = "payment_declined"
    status_code = 402
    default_message = "The payment was declined"


class PaymentUnavailable(AppError):
    """The gateway's answer is unknown: retry with the same Idempotency-Key, which never
    charges twice."""

    code = "payment_unavailable"
    status_code = 503
    default_message = "The payment gateway did not answer; retry with the same Idempotency-Key"
    header_docs = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "2"}


class IllegalOrderMove(ConflictError):
    """`details.allowed` lists the statuses the order may move to now."""

    code = "illegal_order_move"
    default_message = "The order cannot move to that status"


class WebhookSignatureInvalid(UnauthorizedError):
    code = "webhook_signature_invalid"
    default_message = "The webhook's signature does not verify"


class ReturnNotFound(NotFoundError):
    code = "return_not_found"
    default_message = "Return not found"


class ReturnWindowClosed(ConflictError):
    """Only a delivered order may be returned, within `BAZAAR_COMMERCE_RETURN_DAYS` of its
    delivery (`details.delivered_at`, `details.closes_at`)."""

    code = "return_window_closed"
    default_message = "The order cannot be returned now"


class ReturnExceedsOrder(InvalidInputError):
    """`details.order_line_id` and `details.returnable` say how many units of a line are left
    to return."""

    code = "return_exceeds_order"
    default_message = "More units than the order has left to return"


class IllegalReturnMove(ConflictError):
    """`details.allowed` lists the statuses the return may move to now."""

    code = "illegal_return_move"
    default_message = "The return cannot move to that status"


class AddressNotFound(NotFoundError):
    code = "address_not_found"
    default_message = "Address not found"


class PaymentMethodNotFound(NotFoundError):
    code = "payment_method_not_found"
    default_message = "Payment method not found"
