"""Who may use commerce routes, the shop's terms, and rows loaded within scope (or 404).

Staff (admins, and officers acting as a seller's manager) manage the catalog and stock; buyers
(role `customer`) read active products and keep a cart. Carts are buyers' only: staff get 403.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from bazaar.auth.dependencies import require
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.commerce import cart, orders, returns, service
from bazaar.commerce.errors import (
    CartItemNotFound,
    OrderNotFound,
    ProductNotFound,
    ReturnNotFound,
    VariantNotFound,
)
from bazaar.commerce.models import CartItem, Order, Product, Return, Variant
from bazaar.commerce.payments.gateway import HttpGateway, PaymentGateway
from bazaar.commerce.rules import Shop
from bazaar.db import SAFE_METHODS, SessionDep
from bazaar.errors import raises

CatalogReader = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER, Role.CUSTOMER))]
"""Machine accounts (nodes) sync; they do not shop."""
Buyer = Annotated[Principal, Depends(require(Role.CUSTOMER))]


def _shop(request: Request) -> Shop:
    return Shop.from_settings(request.app.state.runtime.settings)


ShopDep = Annotated[Shop, Depends(_shop)]


@raises(ProductNotFound)
async def _product(product_id: uuid.UUID, session: SessionDep, principal: CatalogReader) -> Product:
    return await service.get_product(session=session, principal=principal, product_id=product_id)


ProductDep = Annotated[Product, Depends(_product)]


@raises(VariantNotFound)
async def _variant(variant_id: uuid.UUID, product: ProductDep, session: SessionDep) -> Variant:
    return await service.get_variant(session=session, product=product, variant_id=variant_id)


VariantDep = Annotated[Variant, Depends(_variant)]


@raises(CartItemNotFound)
async def _cart_item(item_id: uuid.UUID, session: SessionDep, principal: Buyer) -> CartItem:
    return await cart.get_item(session=session, principal=principal, item_id=item_id)


CartItemDep = Annotated[CartItem, Depends(_cart_item)]


async def _gateway(request: Request) -> AsyncIterator[PaymentGateway]:
    async with HttpGateway.from_settings(request.app.state.runtime.settings) as gateway:
        yield gateway


GatewayDep = Annotated[PaymentGateway, Depends(_gateway)]


def _writes(request: Request) -> bool:
    return request.method not in SAFE_METHODS


@raises(OrderNotFound)
async def _order(
    order_id: uuid.UUID, request: Request, session: SessionDep, principal: CatalogReader
) -> Order:
    """Staff reach every order; a buyer their own (another's is 404). Locked for a write."""
    return await orders.get(
        session=session, principal=principal, order_id=order_id, for_update=_writes(request)
    )


OrderDep = Annotated[Order, Depends(_order)]


@raises(ReturnNotFound)
async def _return(
    return_id: uuid.UUID, request: Request, session: SessionDep, principal: CatalogReader
) -> Return:
    """Staff reach every return; a buyer their own (another's is 404). Locked for a write."""
    return await returns.get(
        session=session, principal=principal, return_id=return_id, for_update=_writes(request)
    )


ReturnDep = Annotated[Return, Depends(_return)]
