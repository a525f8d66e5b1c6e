"""Orders and their returns over HTTP, and the payment gateway's webhooks."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from bazaar.auth.dependencies import StaffOnly
from bazaar.commerce import orders, placement, returns
from bazaar.commerce.dependencies import (
    Buyer,
    CatalogReader,
    GatewayDep,
    OrderDep,
    ReturnDep,
    ShopDep,
)
from bazaar.commerce.errors import (
    CheckoutAlreadyOrdered,
    CheckoutExpired,
    CheckoutNotFound,
    CheckoutStale,
    IllegalOrderMove,
    IllegalReturnMove,
    LocationNotFound,
    PaymentDeclined,
    PaymentUnavailable,
    PointsExceedBalance,
    ReturnExceedsOrder,
    ReturnNotFound,
    ReturnWindowClosed,
    WebhookSignatureInvalid,
)
from bazaar.commerce.order_schemas import (
    GatewayWebhook,
    OrderCreate,
    OrderRead,
    OrderStatusSet,
    ReturnCreate,
    ReturnRead,
    ReturnStatusSet,
    TrackingRead,
    WebhookAck,
)
from bazaar.commerce.payments import webhooks
from bazaar.commerce.rules import OrderStatus, ReturnStatus
from bazaar.db import SessionDep, unit_of_work
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


@router.post(
    "/orders/{order_id}/return",
    status_code=201,
    responses=error_responses(ReturnWindowClosed, ReturnExceedsOrder),
)
async def request_return(
    body: ReturnCreate, order: OrderDep, session: SessionDep, principal: Buyer, request: Request
) -> ReturnRead:
    """Returns units of the caller's delivered order within the return window (30 days by
    default); the refund, fixed now, is the units' share of what was paid for the goods."""
    made = await returns.request(
        session=session,
        principal=principal,
        order=order,
        data=body,
        return_days=request.app.state.runtime.settings.commerce_return_days,
    )
    return (await returns.read(session=session, returns=[made]))[0]


@router.get("/returns")
async def list_returns(
    session: SessionDep,
    principal: CatalogReader,
    paging: Paging,
    status: ReturnStatus | None = None,
) -> Page[ReturnRead]:
    """A buyer's own returns, or every return for staff; newest first."""
    found, total = await returns.page(
        session=session,
        principal=principal,
        status=status,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of(found, total)


@router.get("/returns/{return_id}")
async def get_return(found: ReturnDep, session: SessionDep) -> ReturnRead:
    """The return with its lines, refund and history."""
    return (await returns.read(session=session, returns=[found]))[0]


@router.post(
    "/returns/{return_id}/status",
    responses=error_responses(IllegalReturnMove, LocationNotFound),
)
async def move_return(
    body: ReturnStatusSet, found: ReturnDep, session: SessionDep, principal: StaffOnly
) -> ReturnRead:
    """Staff approve or reject a return, or receive its units back on hand at `location_id`;
    the refund is `POST /returns/{return_id}/refund`."""
    moved = await returns.move(
        session=session,
        principal=principal,
        ret=found,
        status=body.status,
        location_id=body.location_id,
        note=body.note,
    )
    return (await returns.read(session=session, returns=[moved]))[0]


@router.post(
    "/returns/{return_id}/refund",
    responses=error_responses(ReturnNotFound, IllegalReturnMove, PaymentUnavailable),
)
async def refund_return(
    return_id: uuid.UUID, principal: StaffOnly, request: Request, gateway: GatewayDep
) -> ReturnRead:
    """Pays a received return back to the order's tender and marks it `refunded`; a retry
    never refunds twice (the gateway call is keyed by the return)."""
    runtime = request.app.state.runtime
    refunded = await returns.refund(
        runtime=runtime, gateway=gateway, principal=principal, return_id=return_id
    )
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        return (await returns.read(session=session, returns=[refunded]))[0]


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
