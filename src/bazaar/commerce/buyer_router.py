"""The buyer's saved addresses and payment methods over HTTP (the original shop's
`/api/users/addresses` and `/api/users/payment-methods`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from bazaar.commerce import buyer
from bazaar.commerce.buyer_schemas import (
    AddressCreate,
    AddressRead,
    PaymentMethodCreate,
    PaymentMethodRead,
)
from bazaar.commerce.dependencies import Buyer
from bazaar.commerce.errors import AddressNotFound, PaymentMethodNotFound
from bazaar.commerce.models import BuyerAddress, SavedPaymentMethod
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route

router = APIRouter(prefix="/buyer", route_class=Route, tags=["buyer"])


@router.get("/addresses")
async def list_addresses(
    session: SessionDep, principal: Buyer, paging: Paging
) -> Page[AddressRead]:
    """The caller's addresses, the default first."""
    found, total = await buyer.listed(
        session=session,
        principal=principal,
        model=BuyerAddress,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of([AddressRead.model_validate(a) for a in found], total)


@router.post("/addresses", status_code=201)
async def add_address(body: AddressCreate, session: SessionDep, principal: Buyer) -> AddressRead:
    """Saves an address; the first one, or one sent with `is_default`, is the default."""
    made = await buyer.add_address(session=session, principal=principal, data=body)
    return AddressRead.model_validate(made)


@router.delete(
    "/addresses/{address_id}", status_code=204, responses=error_responses(AddressNotFound)
)
async def remove_address(address_id: uuid.UUID, session: SessionDep, principal: Buyer) -> Response:
    """Deletes one of the caller's addresses; if it was the default, the newest other is."""
    await buyer.remove(session=session, principal=principal, model=BuyerAddress, row_id=address_id)
    return Response(status_code=204)


@router.get("/payment-methods")
async def list_payment_methods(
    session: SessionDep, principal: Buyer, paging: Paging
) -> Page[PaymentMethodRead]:
    """The caller's saved tenders (a card as its token and last four digits), default first."""
    found, total = await buyer.listed(
        session=session,
        principal=principal,
        model=SavedPaymentMethod,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of([PaymentMethodRead.model_validate(m) for m in found], total)


@router.post("/payment-methods", status_code=201)
async def add_payment_method(
    body: PaymentMethodCreate, session: SessionDep, principal: Buyer
) -> PaymentMethodRead:
    """Saves a card's gateway token with its last four digits, or a UPI id (kept masked); a
    card number is refused (422)."""
    made = await buyer.add_payment_method(session=session, principal=principal, data=body)
    return PaymentMethodRead.model_validate(made)


@router.delete(
    "/payment-methods/{method_id}",
    status_code=204,
    responses=error_responses(PaymentMethodNotFound),
)
async def remove_payment_method(
    method_id: uuid.UUID, session: SessionDep, principal: Buyer
) -> Response:
    """Deletes one of the caller's saved tenders; if it was the default, the newest other is."""
    await buyer.remove(
        session=session, principal=principal, model=SavedPaymentMethod, row_id=method_id
    )
    return Response(status_code=204)
