"""Returns: a buyer returns units of a delivered order within the window, staff approve or
reject, receive the units back into stock at a location, and refund them to the original
tender (`requested -> approved -> received -> refunded`, or `rejected`).

An order earns its points once its return window closes (`credit_closed_windows`, a job),
for what the buyer kept. The refund goes to the gateway between two transactions, as placing
an order does (`placement.py`): no database lock waits on the network, and the refund's
idempotency key is the return's, so a retried refund never pays twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.commerce import inventory, loyalty
from bazaar.commerce.errors import (
    IllegalReturnMove,
    PaymentUnavailable,
    ReturnExceedsOrder,
    ReturnNotFound,
    ReturnWindowClosed,
)
from bazaar.commerce.models import Order, OrderLine, OrderStatusChange, Return, ReturnLine
from bazaar.commerce.order_schemas import ReturnCreate, ReturnLineRead, ReturnRead
from bazaar.commerce.payments.gateway import GatewayRefused, GatewayUnavailable, PaymentGateway
from bazaar.commerce.rules import (
    RETURN_MOVES,
    OrderStatus,
    PointsKind,
    ReturnStatus,
    Shop,
    points_earned,
    refund_for,
)
from bazaar.commerce.scope import STAFF
from bazaar.db import unit_of_work
from bazaar.errors import InvalidInputError
from bazaar.pagination import fetch_page
from bazaar.runtime import Runtime
from bazaar.stamps import utcnow

log = structlog.get_logger(__name__)


def _visible(principal: Principal) -> ColumnElement[bool]:
    return true() if principal.role in STAFF else Return.user_id == principal.user_id


def _step(ret: Return, status: ReturnStatus, by: uuid.UUID, note: str) -> None:
    ret.status = status
    step = {"status": status.value, "at": utcnow().isoformat(), "by": str(by), "note": note}
    ret.history = [*ret.history, step]


async def _delivered_at(session: AsyncSession, order: Order) -> datetime | None:
    return await session.scalar(
        select(func.max(OrderStatusChange.created_at)).where(
            OrderStatusChange.order_id == order.id,
            OrderStatusChange.status == OrderStatus.DELIVERED,
        )
    )


async def _returnable(session: AsyncSession, order: Order) -> dict[uuid.UUID, OrderLine]:
    lines = await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    return {line.id: line for line in lines}


async def _returned(session: AsyncSession, order: Order) -> dict[uuid.UUID, int]:
    """Units of each line in the order's returns that were not rejected."""
    rows = await session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order.id, Return.status != ReturnStatus.REJECTED)
        .group_by(ReturnLine.order_line_id)
    )
    return {line_id: int(units) for line_id, units in rows}


async def request(
    *,
    session: AsyncSession,
    principal: Principal,
    order: Order,
    data: ReturnCreate,
    return_days: int,
) -> Return:
    delivered = await _delivered_at(session, order)
    closes = None if delivered is None else delivered + timedelta(days=return_days)
    if delivered is None or closes is None or utcnow() > closes:
        raise ReturnWindowClosed(
            details={
                "status": order.status,
                "delivered_at": None if delivered is None else delivered.isoformat(),
                "closes_at": None if closes is None else closes.isoformat(),
            }
        )
    lines = await _returnable(session, order)
    returned = await _returned(session, order)
    asked: dict[uuid.UUID, int] = {}
    for wanted in data.lines:
        asked[wanted.order_line_id] = asked.get(wanted.order_line_id, 0) + wanted.quantity
    refund = Decimal(0)
    for line_id, quantity in asked.items():
        line = lines.get(line_id)
        left = 0 if line is None else line.quantity - returned.get(line_id, 0)
        if line is None or quantity > left:
            raise ReturnExceedsOrder(details={"order_line_id": str(line_id), "returnable": left})
        refund += refund_for(
            unit_price=line.unit_price,
            quantity=quantity,
            subtotal=order.subtotal,
            paid=order.total - order.shipping,
            currency=order.currency,
        )
    ret = Return(
        order_id=order.id,
        user_id=order.user_id,
        status=ReturnStatus.REQUESTED,
        reason=data.reason,
        refund_amount=min(refund, await _refundable(session, order)),
        history=[],
    )
    _step(ret, ReturnStatus.REQUESTED, principal.user_id, data.reason)
    session.add(ret)
    await session.flush()
    session.add_all(
        ReturnLine(
            return_id=ret.id,
            order_line_id=line_id,
            variant_id=lines[line_id].variant_id,
            quantity=q,
        )
        for line_id, q in asked.items()
    )
    await session.flush()
    return ret


async def _refundable(session: AsyncSession, order: Order) -> Decimal:
    """What the order's goods cost less what its other returns will refund: the rounding of
    many small returns never adds up to more than was paid."""
    promised = await session.scalar(
        select(func.sum(Return.refund_amount)).where(
            Return.order_id == order.id, Return.status != ReturnStatus.REJECTED
        )
    )
    return order.total - order.shipping - (promised or Decimal(0))


async def credit_closed_windows(*, session: AsyncSession, shop: Shop, now: datetime) -> int:
    """Credits the points of every delivered order whose return window has closed, once: for
    what the buyer kept (paid for the goods, less every refund and open return), so a refund
    never needs its points taken back. Returns how many orders were credited."""
    delivered = (
        select(OrderStatusChange.order_id)
        .where(
            OrderStatusChange.status == OrderStatus.DELIVERED,
            OrderStatusChange.created_at < now - timedelta(days=shop.return_days),
        )
        .scalar_subquery()
    )
    due = await session.scalars(
        select(Order)
        .where(Order.points_credited_at.is_(None), Order.id.in_(delivered))
        .with_for_update()
    )
    credited = 0
    for order in due:
        points = points_earned(shop, await _refundable(session, order))
        if points > 0:
            await loyalty.credit(
                session=session,
                shop=shop,
                user_id=order.user_id,
                kind=PointsKind.EARNED,
                points=points,
                reason=f"Order {order.number}",
                now=now,
            )
        order.points_credited_at = now
        credited += 1
    await session.flush()
    return credited


async def get(
    *, session: AsyncSession, principal: Principal, return_id: uuid.UUID, for_update: bool = False
) -> Return:
    query = select(Return).where(Return.id == return_id, _visible(principal))
    found = await session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise ReturnNotFound(details={"return_id": str(return_id)})
    return found


def _check_move(ret: Return, status: ReturnStatus) -> None:
    allowed = RETURN_MOVES[ret.status]
    if status not in allowed:
        raise IllegalReturnMove(details={"status": ret.status, "allowed": list(allowed)})


async def move(
    *,
    session: AsyncSession,
    principal: Principal,
    ret: Return,
    status: ReturnStatus,
    location_id: uuid.UUID | None,
    note: str,
) -> Return:
    """Approve, reject, or receive the units back on hand at `location_id`. Refunding goes
    through `refund`, which calls the gateway."""
    _check_move(ret, status)
    if status is ReturnStatus.REFUNDED:
        raise InvalidInputError(
            "A refund goes through the gateway: POST /returns/{return_id}/refund",
            details={"field": "status"},
        )
    if status is ReturnStatus.RECEIVED:
        if location_id is None:
            raise InvalidInputError(
                "Receiving a return needs the location_id the units go back to",
                details={"field": "location_id"},
            )
        for line in await session.scalars(select(ReturnLine).where(ReturnLine.return_id == ret.id)):
            await inventory.restock(
                session=session,
                principal=principal,
                variant_id=line.variant_id,
                location_id=location_id,
                quantity=line.quantity,
                note=f"return {ret.id}",
            )
        ret.location_id = location_id
    _step(ret, status, principal.user_id, note)
    await session.flush()
    return ret


async def refund(
    *, runtime: Runtime, gateway: PaymentGateway, principal: Principal, return_id: uuid.UUID
) -> Return:
    """Pays the return's amount back to the order's tender, then marks it `refunded`."""
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        ret = await get(session=session, principal=principal, return_id=return_id)
        _check_move(ret, ReturnStatus.REFUNDED)
        order = await session.get_one(Order, ret.order_id)
    try:
        paid_back = await gateway.refund(
            key=f"return-{ret.id}-refund", payment_id=order.payment_id, amount=ret.refund_amount
        )
    except (GatewayUnavailable, GatewayRefused) as exc:
        log.warning("refund_unanswered", return_id=str(ret.id), error=str(exc))
        raise PaymentUnavailable from exc
    async with unit_of_work(runtime.db, runtime.events) as session:
        ret = await get(session=session, principal=principal, return_id=return_id, for_update=True)
        if ret.status is ReturnStatus.RECEIVED:  # a concurrent duplicate may have been first
            _step(ret, ReturnStatus.REFUNDED, principal.user_id, f"refunded {ret.refund_amount}")
            order = await session.get_one(Order, ret.order_id, with_for_update=True)
            order.payment_status = paid_back.status
        await session.flush()
        return ret


async def read(*, session: AsyncSession, returns: list[Return]) -> list[ReturnRead]:
    rows = await session.scalars(
        select(ReturnLine)
        .where(ReturnLine.return_id.in_([r.id for r in returns]))
        .order_by(ReturnLine.id)
    )
    lines: dict[uuid.UUID, list[ReturnLineRead]] = {}
    for line in rows:
        lines.setdefault(line.return_id, []).append(ReturnLineRead.model_validate(line))
    return [
        ReturnRead(
            id=r.id,
            order_id=r.order_id,
            status=r.status,
            reason=r.reason,
            refund_amount=r.refund_amount,
            location_id=r.location_id,
            lines=lines.get(r.id, []),
            history=r.history,
            created_at=r.created_at,
        )
        for r in returns
    ]


async def page(
    *,
    session: AsyncSession,
    principal: Principal,
    status: ReturnStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[ReturnRead], int]:
    query = select(Return).where(_visible(principal)).order_by(Return.id.desc())
    if status is not None:
        query = query.where(Return.status == status)
    found, total = await fetch_page(session, query, limit=limit, offset=offset)
    return await read(session=session, returns=found), total
