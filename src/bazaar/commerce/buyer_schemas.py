"""A buyer's saved addresses and payment methods.

A card is saved as the gateway's token with its last four digits; a UPI id only masked. A card
number sent in any field is refused by the patterns (422), and so is never stored or logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from bazaar.commerce.order_schemas import EXAMPLE_ADDRESS, Address
from bazaar.commerce.payments.gateway import Tender
from bazaar.commerce.schemas import Label, Read, Strict


class AddressCreate(Address):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{**EXAMPLE_ADDRESS, "label": "Home", "is_default": True}]},
    )

    label: Label = "Home"
    is_default: bool = False


class AddressRead(Read):
    id: uuid.UUID
    label: str
    is_default: bool
    address: dict[str, Any]
    created_at: datetime


class SavedCard(Strict):
    method: Literal[Tender.CARD]
    token: str = Field(pattern=r"^tok_[A-Za-z0-9_]{1,60}$", examples=["tok_visa"])
    last4: str = Field(pattern=r"^[0-9]{4}$", examples=["4242"])
    brand: Label | None = None


class SavedUpi(Strict):
    method: Literal[Tender.UPI]
    upi_id: str = Field(pattern=r"^[A-Za-z0-9._-]{2,64}@[A-Za-z]{2,64}$", examples=["bina@okbank"])


class PaymentMethodCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "method": {"method": "card", "token": "tok_visa", "last4": "4242"},
                    "is_default": True,
                }
            ]
        },
    )

    method: Annotated[SavedCard | SavedUpi, Field(discriminator="method")]
    is_default: bool = False


class PaymentMethodRead(Read):
    id: uuid.UUID
    tender: Tender
    label: str = Field(description='What the buyer sees: "visa •••• 4242", "upi b***@okbank"')
    token: str | None = Field(description="The card's gateway token, to pay with; None for UPI")
    is_default: bool
    created_at: datetime
