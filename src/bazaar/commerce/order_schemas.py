"""Request and response bodies of orders and the payment gateway's webhooks.

A tender is given as the gateway's token for a card (`tok_...`: the card number itself never
reaches Bazaar, and one sent in is refused by the pattern) or as a UPI id.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bazaar.commerce.payments.gateway import PaymentStatus, Tender
from bazaar.commerce.rules import OrderStatus, ReturnStatus
from bazaar.commerce.schemas import Label, Name, Read, Strict, TotalsRead
from bazaar.text import Line

EXAMPLE_ADDRESS: dict[str, Any] = {
    "full_name": "Bina Buyer",
    "line1": "12 MG Road",
    "city": "Pune",
    "postal_code": "411001",
    "phone": "+91 98200 00000",
}


class Address(Strict):
    full_name: Name
    line1: Annotated[Line, Field(min_length=1, max_length=200)]
    line2: Annotated[Line, Field(max_length=200)] | None = None
    city: Label
    state: Label | None = None
    postal_code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{2,9}$")
    country: str = Field(default="IN", pattern=r"^[A-Z]{2}$")
    phone: str = Field(pattern=r"^\+?[0-9][0-9 ()-]{6,19}$")


class CardPayment(Strict):
    method: Literal[Tender.CARD]
    token: str = Field(
        pattern=r"^tok_[A-Za-z0-9_]{1,60}$",
        description="The gateway's token for the card; a card number is refused",
        examples=["tok_visa"],
    )


class UpiPayment(Strict):
    method: Literal[Tender.UPI]
    upi_id: str = Field(pattern=r"^[A-Za-z0-9._-]{2,64}@[A-Za-z]{2,64}$", examples=["bina@okbank"])


PaymentIn = Annotated[CardPayment | UpiPayment, Field(discriminator="method")]


class OrderCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "checkout_session_id": "01900000-0000-7000-8000-000000000001",
                    "address": EXAMPLE_ADDRESS,
                    "payment": {"method": "card", "token": "tok_visa"},
                }
            ]
        },
    )

    checkout_session_id: uuid.UUID
    address: Address
    payment: PaymentIn


class OrderLineRead(Read):
    id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    name: str
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class OrderRead(BaseModel):
    id: uuid.UUID
    number: str
    status: OrderStatus
    placed_at: datetime
    items: list[OrderLineRead]
    totals: TotalsRead
    address: dict[str, Any]
    tender: Tender
    tender_label: str
    payment_id: str = Field(description="The gateway's id of the payment")
    payment_status: PaymentStatus
    tracking_number: str
    estimated_delivery: date


class TrackingStep(BaseModel):
    status: OrderStatus
    at: datetime
    note: str


class TrackingRead(BaseModel):
    number: str
    status: OrderStatus
    tracking_number: str
    estimated_delivery: date
    history: list[TrackingStep] = Field(description="Oldest first")
    next_status: OrderStatus | None


class OrderStatusSet(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "packed", "note": "Box 3"}]}
    )

    status: OrderStatus
    note: Annotated[Line, Field(max_length=200)] = ""


class WebhookData(BaseModel):
    payment_id: str = Field(min_length=1, max_length=100)


class GatewayWebhook(BaseModel):
    """What the gateway posts, signed (`X-Gateway-Signature: t=<unix time>,v1=<hex HMAC-SHA256
    of "<t>.<body>">`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "evt_1", "type": "payment.captured", "data": {"payment_id": "pay_1"}}
            ]
        }
    )

    id: str = Field(min_length=1, max_length=100)
    type: str = Field(min_length=1, max_length=50)
    data: WebhookData


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool = Field(description="The event was applied before; nothing changed")


class ReturnLineIn(Strict):
    order_line_id: uuid.UUID
    quantity: int = Field(ge=1, le=10_000)


class ReturnCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lines": [
                        {"order_line_id": "01900000-0000-7000-8000-000000000001", "quantity": 1}
                    ],
                    "reason": "Wrong size",
                }
            ]
        },
    )

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    reason: Annotated[Line, Field(min_length=1, max_length=500)]


class ReturnLineRead(Read):
    order_line_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int


class ReturnRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: ReturnStatus
    reason: str
    refund_amount: Decimal
    location_id: uuid.UUID | None
    lines: list[ReturnLineRead]
    history: list[dict[str, Any]] = Field(description="Each status reached: status, at, by, note")
    created_at: datetime


class ReturnStatusSet(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "received", "location_id": "01900000-0000-7000-8000-000000000002"}
            ]
        },
    )

    status: ReturnStatus
    location_id: uuid.UUID | None = Field(
        default=None, description="Required for `received`: where the units go back on hand"
    )
    note: Annotated[Line, Field(max_length=200)] = ""
