"""Placing an order: the one use case that spans transactions, because it charges the buyer
over the network and no database lock may be held while it waits for the gateway (on SQLite
that lock would stop every other writer).

1. read (no write lock): the Idempotency-Key's order, if any, is the answer; the checkout
   session must be the caller's, live, and not ordered yet;
2. authorize the total at the gateway, keyed by the checkout session, so that every retry,
   whatever its Idempotency-Key, is the same authorization; a timeout is settled by asking for
   the status; a decline ends here with nothing written;
3. one transaction: the order, its lines, stock sold, the cart's lines gone, points spent.
   If it fails (the cart changed, a hold expired, the points are gone) the authorization is
   voided, unless a concurrent duplicate already placed the order on it;
4. capture, then mark the order `paid`. A capture that does not answer leaves the order
   `placed`: the `commerce-capture-payments` job, or the gateway's webhook, finishes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select

from bazaar.auth.principal import Principal
from bazaar.commerce import orders
from bazaar.commerce.errors import (
    CheckoutAlreadyOrdered,
    PaymentDeclined,
    PaymentUnavailable,
)
from bazaar.commerce.models import Order
from bazaar.commerce.order_schemas import OrderCreate, OrderRead
from bazaar.commerce.payments.gateway import (
    GatewayPayment,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    PaymentStatus,
)
from bazaar.commerce.rules import Shop
from bazaar.db import unit_of_work
from bazaar.idempotency import IdempotencyKeyReused
from bazaar.runtime import Runtime
from bazaar.stamps import utcnow

log = structlog.get_logger(__name__)
CAPTURE_GRACE = timedelta(minutes=1)
"""An order `placed` this long is one whose capture did not answer: the job captures it."""


@dataclass(frozen=True)
class Placed:
    order: OrderRead
    replayed: bool


async def place_order(
    *,
    runtime: Runtime,
    gateway: PaymentGateway,
    principal: Principal,
    shop: Shop,
    data: OrderCreate,
    key: str,
) -> Placed:
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        by_key, by_checkout = await orders.find(
            session=session, principal=principal, key=key, checkout_id=data.checkout_session_id
        )
        if by_key is not None:
            if by_key.checkout_session_id != data.checkout_session_id:
                raise IdempotencyKeyReused
            return Placed((await orders.read(session=session, orders=[by_key]))[0], True)
        if by_checkout is not None:
            raise CheckoutAlreadyOrdered(
                details={"order_id": str(by_checkout.id), "number": by_checkout.number}
            )
        checkout = await orders.checkout_of(
            session=session, principal=principal, checkout_id=data.checkout_session_id, now=utcnow()
        )
    tender, _, source = orders.tender_label(data)
    # One authorization per checkout session and tender: every retry with the same card is the
    # same call to the gateway, while another card after a decline is a new one.
    tender_key = hashlib.sha256(f"{tender}:{source}".encode()).hexdigest()[:16]
    base = f"checkout-{checkout.id}-{tender_key}"
    try:
        payment = await gateway.authorize(
            key=f"{base}-authorize",
            amount=checkout.total,
            currency=checkout.currency,
            tender=tender,
            source=source,
        )
    except (GatewayUnavailable, GatewayRefused) as exc:
        log.warning("payment_authorize_unanswered", checkout=str(checkout.id), error=str(exc))
        raise PaymentUnavailable from exc
    if payment.status is PaymentStatus.DECLINED:
        raise PaymentDeclined(details={"reason": payment.decline_reason})
    order = await _write(runtime, gateway, principal, shop, base, data, key, payment)
    await capture(runtime=runtime, gateway=gateway, payment_id=order.payment_id)
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        fresh = await session.get_one(Order, order.id)
        return Placed((await orders.read(session=session, orders=[fresh]))[0], False)


async def _write(
    runtime: Runtime,
    gateway: PaymentGateway,
    principal: Principal,
    shop: Shop,
    base: str,
    data: OrderCreate,
    key: str,
    payment: GatewayPayment,
) -> Order:
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            checkout = await orders.checkout_of(
                session=session,
                principal=principal,
                checkout_id=data.checkout_session_id,
                now=utcnow(),
            )
            return await orders.place(
                session=session,
                principal=principal,
                shop=shop,
                checkout=checkout,
                data=data,
                key=key,
                payment=payment,
                delivery_days=runtime.settings.commerce_delivery_days,
            )
    except BaseException:
        # A concurrent duplicate may have placed the order first (this one then finds the
        # cart's lines gone, or hits the unique checkout session): on this very authorization
        # when it paid with the same tender, which must then stand, or on another one.
        async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
            placed = await session.scalar(
                select(Order).where(Order.checkout_session_id == data.checkout_session_id)
            )
        if placed is None or placed.payment_id != payment.id:
            await _void(gateway, payment, base)
        if placed is None:
            raise
        if placed.idempotency_key != key or placed.payment_id != payment.id:
            raise CheckoutAlreadyOrdered(
                details={"order_id": str(placed.id), "number": placed.number}
            ) from None
        return placed


async def _void(gateway: PaymentGateway, payment: GatewayPayment, base: str) -> None:
    """Gives the authorization back; if the gateway does not answer, the hold on the buyer's
    money lapses at the gateway as unused authorizations do."""
    try:
        await gateway.refund(key=f"{base}-void", payment_id=payment.id, amount=payment.amount)
    except (GatewayUnavailable, GatewayRefused) as exc:
        log.error("payment_void_failed", payment=payment.id, error=str(exc))


async def capture(*, runtime: Runtime, gateway: PaymentGateway, payment_id: str) -> None:
    """Captures the authorization (the same key from the request and from the job: one
    capture) and marks its order `paid`."""
    try:
        captured = await gateway.capture(key=f"{payment_id}-capture", payment_id=payment_id)
    except (GatewayUnavailable, GatewayRefused) as exc:
        log.warning("payment_capture_unanswered", payment=payment_id, error=str(exc))
        return
    if captured.status is not PaymentStatus.CAPTURED:
        log.error("payment_not_captured", payment=payment_id, status=captured.status)
        return
    async with unit_of_work(runtime.db, runtime.events) as session:
        await orders.mark_captured(session=session, payment_id=payment_id)


async def capture_waiting(*, runtime: Runtime, gateway: PaymentGateway) -> int:
    """The job: captures orders left `placed` by a capture that did not answer."""
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        waiting = await orders.awaiting_capture(session=session, before=utcnow() - CAPTURE_GRACE)
    for payment_id in waiting:
        await capture(runtime=runtime, gateway=gateway, payment_id=payment_id)
    return len(waiting)
