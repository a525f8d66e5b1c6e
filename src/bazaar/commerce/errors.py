"""Commerce errors, each with its own code (the one error body is built in bazaar.errors)."""

from __future__ import annotations

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
