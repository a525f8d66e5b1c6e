"""The buyer's cart over HTTP. Every route acts on the caller's own cart; a line of another
buyer's cart is 404."""

from __future__ import annotations

from fastapi import APIRouter

from bazaar.commerce import cart
from bazaar.commerce.dependencies import Buyer, CartItemDep, ShopDep
from bazaar.commerce.errors import (
    CartEmpty,
    InsufficientStock,
    ProductNotAvailable,
    ProductNotFound,
    VariantNotFound,
)
from bazaar.commerce.schemas import CartItemAdd, CartItemSet, CartRead, CheckoutRead, TotalsRead
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.routing import Route

router = APIRouter(route_class=Route, tags=["cart"])


@router.get("/cart")
async def get_cart(session: SessionDep, principal: Buyer, shop: ShopDep) -> CartRead:
    """The caller's lines, what each holds and until when, and the totals."""
    return await cart.view(session=session, principal=principal, shop=shop)


@router.post(
    "/cart/items",
    status_code=201,
    responses=error_responses(ProductNotFound, VariantNotFound, InsufficientStock),
)
async def add_item(
    body: CartItemAdd, session: SessionDep, principal: Buyer, shop: ShopDep
) -> CartRead:
    """Adds units of a variant (to its line, if the cart has one) and holds them; 409
    `insufficient_stock` says how many the line can have."""
    return await cart.add_item(session=session, principal=principal, shop=shop, data=body)


@router.put(
    "/cart/items/{item_id}", responses=error_responses(InsufficientStock, ProductNotAvailable)
)
async def set_item(
    body: CartItemSet, item: CartItemDep, session: SessionDep, principal: Buyer, shop: ShopDep
) -> CartRead:
    """Sets a line's quantity: holds more, or gives the difference back."""
    return await cart.set_quantity(
        session=session, principal=principal, shop=shop, item=item, quantity=body.quantity
    )


@router.delete("/cart/items/{item_id}")
async def remove_item(
    item: CartItemDep, session: SessionDep, principal: Buyer, shop: ShopDep
) -> CartRead:
    """Removes a line and gives its held units back."""
    return await cart.remove_item(session=session, principal=principal, shop=shop, item=item)


@router.get("/cart/total")
async def cart_total(session: SessionDep, principal: Buyer, shop: ShopDep) -> TotalsRead:
    """Subtotal, tax on it, shipping (free above the threshold) and total, in that order."""
    return (await cart.view(session=session, principal=principal, shop=shop)).totals


@router.post(
    "/cart/checkout",
    status_code=201,
    responses=error_responses(CartEmpty, InsufficientStock, ProductNotAvailable),
)
async def checkout(session: SessionDep, principal: Buyer, shop: ShopDep) -> CheckoutRead:
    """Holds every line in full until the session expires and records its prices and totals,
    for the order to be placed from."""
    return await cart.checkout(session=session, principal=principal, shop=shop)
