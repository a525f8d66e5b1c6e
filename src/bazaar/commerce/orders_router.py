"""Orders over HTTP, and the payment gateway's webhooks."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from bazaar.auth.dependencies import StaffOnly
from bazaar.commerce import orders, placement
from bazaar.commerce.dependencies import Buyer, CatalogReader, GatewayDep, OrderDep, ShopDep
from bazaar.commerce.errors import (
    CheckoutAlreadyOrdered,
    CheckoutExpired,
    CheckoutNotFound,
    CheckoutStale,
    IllegalOrderMove,
    PaymentDeclined,
    PaymentUnavailable,
    PointsExceedBalance,
    WebhookSignatureInvalid,
)
from bazaar.commerce.order_schemas import (
    GatewayWebhook,
    OrderCreate,
    OrderRead,
    OrderStatusSet,
    TrackingRead,
    WebhookAck,
)
from bazaar.commerce.payments import webhooks
from bazaar.commerce.rules import OrderStatus
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.idempotency import REPLAY_HEADER, IdempotencyKeyReused
from bazaar.pagination import Page, Paging
from bazaar.routing import Route

router = APIRouter(route_class=Route, tags=["orders"])
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Required: a retry with the same key answers the same order",
    ),
]


@router.post(
    "/orders",
    status_code=201,
    responses=error_responses(
        CheckoutNotFound,
        CheckoutExpired,
        CheckoutStale,
        CheckoutAlreadyOrdered,
        PaymentDeclined,
        PaymentUnavailable,
        PointsExceedBalance,
        IdempotencyKeyReused,
    ),
)
async def place_order(
    body: OrderCreate,
    key: IdempotencyKey,
    request: Request,
    response: Response,
    principal: Buyer,
    shop: ShopDep,
    gateway: GatewayDep,
) -> OrderRead:
    """Places the order from a checkout session and pays for it: stock held becomes sold, the
    lines leave the cart, redeemed points are spent. A declined payment (402) leaves no
    order and the cart as it was; the same Idempotency-Key again answers the same order (200,
    `Idempotent-Replayed: true`) and never charges twice."""
    placed = await placement.place_order(
        runtime=request.app.state.runtime,
        gateway=gateway,
        principal=principal,
        shop=shop,
        data=body,
        key=key,
    )
    if placed.replayed:
        response.status_code = 200
        response.headers[REPLAY_HEADER] = "true"
    return placed.order


@router.get("/orders")
async def list_orders(
    session: SessionDep,
    principal: CatalogReader,
    paging: Paging,
    status: OrderStatus | None = None,
) -> Page[OrderRead]:
    """A buyer's own orders, or every order for staff; newest first."""
    found, total = await orders.page(
        session=session,
        principal=principal,
        status=status,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of(found, total)


@router.get("/orders/{order_id}")
async def get_order(order: OrderDep, session: SessionDep) -> OrderRead:
    """The order with its lines, totals, address, tender and tracking number."""
    return (await orders.read(session=session, orders=[order]))[0]


@router.get("/orders/{order_id}/tracking")
async def order_tracking(order: OrderDep, session: SessionDep) -> TrackingRead:
    """Where the order is: every status it reached, when, and the estimated delivery."""
    return await orders.tracking(session=session, order=order)


@router.post("/orders/{order_id}/status", responses=error_responses(IllegalOrderMove))
async def move_order(
    body: OrderStatusSet, order: OrderDep, session: SessionDep, principal: StaffOnly
) -> OrderRead:
    """Staff move the order one step: paid -> packed -> shipped -> delivered (`paid` comes
    from the payment's capture); any other move is 409 with the allowed one."""
    moved = await orders.move(
        session=session, principal=principal, order=order, status=body.status, note=body.note
    )
    return (await orders.read(session=session, orders=[moved]))[0]


@router.post("/webhooks/payment-gateway", responses=error_responses(WebhookSignatureInvalid))
async def gateway_webhook(
    event: GatewayWebhook,
    request: Request,
    session: SessionDep,
    signature: Annotated[str | None, Header(alias=webhooks.SIGNATURE_HEADER)] = None,
) -> WebhookAck:
    """The gateway's events, signed with the shared secret over the raw body (401
    otherwise); a repeated event id is acknowledged and not applied again."""
    settings = request.app.state.runtime.settings
    webhooks.verify(
        settings.payment_webhook_secret.get_secret_value(),
        signature,
        await request.body(),  # the bytes as sent, which FastAPI kept when it parsed them
        now=time.time(),
        tolerance=settings.payment_webhook_tolerance_seconds,
    )
    duplicate = await webhooks.receive(session=session, event=event)
    return WebhookAck(received=True, duplicate=duplicate)
