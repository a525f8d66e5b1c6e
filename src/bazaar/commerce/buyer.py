"""A buyer's saved addresses and payment methods: their own rows only (another buyer's are
404), with exactly one default of each kind while any exist."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce.buyer_schemas import AddressCreate, PaymentMethodCreate, SavedCard
from bazaar.commerce.errors import AddressNotFound, PaymentMethodNotFound
from bazaar.commerce.models import BuyerAddress, SavedPaymentMethod
from bazaar.commerce.payments.gateway import Tender
from bazaar.commerce.rules import masked_upi
from bazaar.pagination import fetch_page

Owned = TypeVar("Owned", BuyerAddress, SavedPaymentMethod)
_MISSING = {BuyerAddress: AddressNotFound, SavedPaymentMethod: PaymentMethodNotFound}


async def listed(
    *, session: AsyncSession, principal: Principal, model: type[Owned], limit: int, offset: int
) -> tuple[list[Owned], int]:
    """The default first, then newest first."""
    query = (
        select(model)
        .where(model.user_id == principal.user_id)
        .order_by(model.is_default.desc(), model.id.desc())
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


async def _add(session: AsyncSession, row: Owned, is_default: bool) -> Owned:
    """The first row is the default; a new default takes over from the old one."""
    model = type(row)
    others = await session.scalar(select(model.id).where(model.user_id == row.user_id).limit(1))
    row.is_default = is_default or others is None
    if row.is_default:
        await session.execute(
            update(model).where(model.user_id == row.user_id).values(is_default=False)
        )
    session.add(row)
    await session.flush()
    return row


async def add_address(
    *, session: AsyncSession, principal: Principal, data: AddressCreate
) -> BuyerAddress:
    address = data.model_dump(mode="json", exclude={"label", "is_default"})
    row = BuyerAddress(user_id=principal.user_id, label=data.label, address=address)
    return await _add(session, row, data.is_default)


def _label(data: PaymentMethodCreate) -> tuple[Tender, str, str | None]:
    method = data.method
    if isinstance(method, SavedCard):
        return Tender.CARD, f"{method.brand or 'card'} •••• {method.last4}", method.token
    return Tender.UPI, masked_upi(method.upi_id), None


async def add_payment_method(
    *, session: AsyncSession, principal: Principal, data: PaymentMethodCreate
) -> SavedPaymentMethod:
    tender, label, token = _label(data)
    row = SavedPaymentMethod(user_id=principal.user_id, tender=tender, label=label, token=token)
    return await _add(session, row, data.is_default)


async def remove(
    *, session: AsyncSession, principal: Principal, model: type[Owned], row_id: uuid.UUID
) -> None:
    """Deletes the caller's row; when it was the default, the newest other one takes over."""
    row = await session.scalar(
        select(model).where(model.id == row_id, model.user_id == principal.user_id)
    )
    if row is None:
        raise _MISSING[model](details={"id": str(row_id)})
    await session.delete(row)
    await session.flush()
    if row.is_default:
        newest = await session.scalar(
            select(model)
            .where(model.user_id == principal.user_id)
            .order_by(model.id.desc())
            .limit(1)
        )
        if newest is not None:
            newest.is_default = True
            await session.flush()
