"""Orders inside one transaction each: placing one from a checkout session, reading them,
moving them along, and recording a captured payment. Charging the buyer happens between
these transactions (`placement.py`); every function here only flushes.

Placing an order turns the checked-out lines' holds into `sold` stock, takes the lines out of
the cart (with its coupon and points), writes the points redeemed on the ledger, counts the
coupon's use against its limits, and records the order, its lines and its first tracking
step, all in the caller's one transaction.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce import inventory, loyalty
from bazaar.commerce.errors import (
    CheckoutExpired,
    CheckoutNotFound,
    CheckoutStale,
    IllegalOrderMove,
    OrderNotFound,
    PointsExceedBalance,
)
from bazaar.commerce.events import OrderStatusChanged
from bazaar.commerce.models import (
    Cart,
    CartItem,
    CheckoutSession,
    Order,
    OrderLine,
    OrderStatusChange,
    StockHold,
)
from bazaar.commerce.order_schemas import (
    OrderCreate,
    OrderLineRead,
    OrderRead,
    TrackingRead,
    TrackingStep,
)
from bazaar.commerce.payments.gateway import GatewayPayment, PaymentStatus, Tender
from bazaar.commerce.rules import OrderStatus, PointsKind, Shop, masked_upi, next_status
from bazaar.commerce.schemas import CheckoutLine, TotalsRead
from bazaar.commerce.scope import STAFF
from bazaar.events import record_event
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow

TOTALS = tuple(TotalsRead.model_fields)


def _visible(principal: Principal) -> ColumnElement[bool]:
    """Staff see every order; a buyer only their own (another's is 404)."""
    return true() if principal.role in STAFF else Order.user_id == principal.user_id


async def checkout_of(
    *, session: AsyncSession, principal: Principal, checkout_id: uuid.UUID, now: datetime
) -> CheckoutSession:
    found = await session.get(CheckoutSession, checkout_id)
    if found is None or found.user_id != principal.user_id:
        raise CheckoutNotFound(details={"checkout_session_id": str(checkout_id)})
    if found.expires_at <= now:
        raise CheckoutExpired(details={"expired_at": found.expires_at.isoformat()})
    return found


async def find(
    *, session: AsyncSession, principal: Principal, key: str, checkout_id: uuid.UUID
) -> tuple[Order | None, Order | None]:
    """The caller's order made with this Idempotency-Key, and the order placed from this
    checkout session (by any key)."""
    by_key = await session.scalar(
        select(Order).where(Order.user_id == principal.user_id, Order.idempotency_key == key)
    )
    by_checkout = await session.scalar(
        select(Order).where(Order.checkout_session_id == checkout_id)
    )
    return by_key, by_checkout


def tender_label(data: OrderCreate) -> tuple[Tender, str, str]:
    """The tender, what the buyer sees of it, and the source the gateway charges."""
    if data.payment.method is Tender.CARD:
        return Tender.CARD, "card", data.payment.token
    return Tender.UPI, masked_upi(data.payment.upi_id), data.payment.upi_id


async def _checked_out_items(
    session: AsyncSession, checkout: CheckoutSession, lines: Sequence[CheckoutLine]
) -> list[uuid.UUID]:
    """The cart lines the session froze, each still at its quantity and fully held."""
    held = (
        select(StockHold.cart_item_id, func.sum(StockHold.quantity).label("units"))
        .group_by(StockHold.cart_item_id)
        .subquery()
    )
    rows = await session.execute(
        select(CartItem.id, CartItem.variant_id, CartItem.quantity, held.c.units)
        .outerjoin(held, held.c.cart_item_id == CartItem.id)
        .where(CartItem.cart_id == checkout.cart_id)
        .with_for_update(of=CartItem)
    )
    found = {variant: (item, quantity, units or 0) for item, variant, quantity, units in rows}
    items = []
    for line in lines:
        item, quantity, units = found.get(line.variant_id, (None, 0, 0))
        if item is None or quantity != line.quantity or units != quantity:
            raise CheckoutStale(details={"sku": line.sku})
        items.append(item)
    return items


def _numbers(now: datetime) -> tuple[str, str]:
    """A human order number and a tracking number, random so they give nothing away."""
    return (
        f"BZ-{now:%Y%m%d}-{secrets.token_hex(3).upper()}",
        f"TRK{secrets.randbelow(10**12):012d}",
    )


async def place(
    *,
    session: AsyncSession,
    principal: Principal,
    shop: Shop,
    checkout: CheckoutSession,
    data: OrderCreate,
    key: str,
    payment: GatewayPayment,
    delivery_days: int,
) -> Order:
    now = utcnow()
    lines = [CheckoutLine.model_validate(line) for line in checkout.items]
    items = await _checked_out_items(session, checkout, lines)
    tender, label, _ = tender_label(data)
    number, tracking = _numbers(now)
    order = Order(
        number=number,
        user_id=principal.user_id,
        checkout_session_id=checkout.id,
        idempotency_key=key,
        status=OrderStatus.PLACED,
        address=data.address.model_dump(mode="json"),
        tender=tender,
        tender_label=label,
        payment_id=payment.id,
        payment_status=payment.status,
        tracking_number=tracking,
        estimated_delivery=(now + timedelta(days=delivery_days)).date(),
        **{name: getattr(checkout, name) for name in TOTALS},
        coupon_code=checkout.coupon_code,
    )
    session.add(order)
    await session.flush()
    session.add_all(OrderLine(order_id=order.id, **line.model_dump()) for line in lines)
    await inventory.sell(session=session, cart_items=items, by=principal.user_id, note=number)
    await session.execute(delete(CartItem).where(CartItem.id.in_(items)))
    cart = await session.get_one(Cart, checkout.cart_id)
    cart.coupon_code, cart.redeem_points, cart.updated_at = None, 0, now
    if checkout.points_redeemed:
        await _spend_points(session, shop, principal, checkout.points_redeemed, number, now)
    if checkout.coupon_code is not None:
        await loyalty.use_coupon(
            session=session, code=checkout.coupon_code, user_id=principal.user_id, order_id=order.id
        )
    _step(session, order, OrderStatus.PLACED, by=principal.user_id, note="")
    await session.flush()
    return order


async def _spend_points(
    session: AsyncSession, shop: Shop, principal: Principal, points: int, number: str, now: datetime
) -> None:
    standing = await loyalty.standing(
        session=session, shop=shop, user_id=principal.user_id, now=now
    )
    if points > standing.balance:
        raise PointsExceedBalance(details={"balance": standing.balance, "points": points})
    await loyalty.credit(
        session=session,
        shop=shop,
        user_id=principal.user_id,
        kind=PointsKind.REDEEMED,
        points=-points,
        reason=f"Order {number}",
        now=now,
    )


def _step(
    session: AsyncSession, order: Order, status: OrderStatus, *, by: uuid.UUID | None, note: str
) -> None:
    order.status = status
    session.add(OrderStatusChange(order_id=order.id, status=status, note=note, by_user_id=by))
    record_event(
        session,
        OrderStatusChanged(
            order_id=str(order.id),
            number=order.number,
            status=status,
            user_id=str(order.user_id),
        ),
    )


async def mark_captured(*, session: AsyncSession, payment_id: str) -> Order | None:
    """The order whose payment was captured moves to `paid` (once, whoever tells first: the
    capture's answer or the gateway's webhook)."""
    order = await session.scalar(
        select(Order).where(Order.payment_id == payment_id).with_for_update()
    )
    if order is None:
        return None
    order.payment_status = PaymentStatus.CAPTURED
    if order.status is OrderStatus.PLACED:
        _step(session, order, OrderStatus.PAID, by=None, note="payment captured")
    await session.flush()
    return order


async def get(
    *, session: AsyncSession, principal: Principal, order_id: uuid.UUID, for_update: bool = False
) -> Order:
    query = select(Order).where(Order.id == order_id, _visible(principal))
    order = await session.scalar(query.with_for_update() if for_update else query)
    if order is None:
        raise OrderNotFound(details={"order_id": str(order_id)})
    return order


async def move(
    *, session: AsyncSession, principal: Principal, order: Order, status: OrderStatus, note: str
) -> Order:
    """Staff move an order one step: paid -> packed -> shipped -> delivered. `paid` comes
    only from the payment's capture."""
    allowed = next_status(order.status)
    if allowed is None or allowed is OrderStatus.PAID or status is not allowed:
        staff_may = [] if allowed in (None, OrderStatus.PAID) else [allowed]
        raise IllegalOrderMove(details={"status": order.status, "allowed": staff_may})
    _step(session, order, status, by=principal.user_id, note=note)
    await session.flush()
    return order


async def page(
    *,
    session: AsyncSession,
    principal: Principal,
    status: OrderStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[OrderRead], int]:
    query = select(Order).where(_visible(principal)).order_by(Order.id.desc())
    if status is not None:
        query = query.where(Order.status == status)
    found, total = await fetch_page(session, query, limit=limit, offset=offset)
    return await read(session=session, orders=found), total


async def read(*, session: AsyncSession, orders: Sequence[Order]) -> list[OrderRead]:
    """The orders with their lines, in two statements whatever their number."""
    rows = await session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id.in_([o.id for o in orders]))
        .order_by(OrderLine.id)
    )
    lines: dict[uuid.UUID, list[OrderLineRead]] = {}
    for line in rows:
        lines.setdefault(line.order_id, []).append(OrderLineRead.model_validate(line))
    return [
        OrderRead(
            id=o.id,
            number=o.number,
            status=o.status,
            placed_at=o.created_at,
            items=lines.get(o.id, []),
            totals=TotalsRead(**{name: getattr(o, name) for name in TOTALS}),
            address=o.address,
            tender=o.tender,
            tender_label=o.tender_label,
            payment_id=o.payment_id,
            payment_status=o.payment_status,
            tracking_number=o.tracking_number,
            estimated_delivery=o.estimated_delivery,
        )
        for o in orders
    ]


async def tracking(*, session: AsyncSession, order: Order) -> TrackingRead:
    steps = await session.scalars(
        select(OrderStatusChange)
        .where(OrderStatusChange.order_id == order.id)
        .order_by(OrderStatusChange.id)
    )
    return TrackingRead(
        number=order.number,
        status=order.status,
        tracking_number=order.tracking_number,
        estimated_delivery=order.estimated_delivery,
        history=[TrackingStep(status=s.status, at=s.created_at, note=s.note) for s in steps],
        next_status=next_status(order.status),
    )


async def awaiting_capture(*, session: AsyncSession, before: datetime) -> list[str]:
    """Payment ids of the orders placed before `before` whose capture is not confirmed."""
    found = await session.scalars(
        select(Order.payment_id).where(
            Order.status == OrderStatus.PLACED,
            Order.payment_status == PaymentStatus.AUTHORIZED,
            Order.created_at < before,
        )
    )
    return list(found)
