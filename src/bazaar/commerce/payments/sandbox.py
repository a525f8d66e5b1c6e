"""A payment gateway's test mode, shipped with Bazaar: a real HTTP server (`bazaar commerce
sandbox-gateway`, started by `make run` and by the tests) that answers as a provider's sandbox
does, with outcomes chosen by the tender:

| tender | source | outcome |
|---|---|---|
| card | `tok_decline` | declined, `card_declined` |
| card | `tok_insufficient_funds` | declined, `insufficient_funds` |
| card | `tok_slow` | authorized, but the answer comes after `slow_seconds` (a timeout) |
| card | `tok_no_capture` | authorized; every capture answers 503 (the webhook tells later) |
| upi | `fail@upi` | declined, `upi_declined` |
| either | anything else | authorized |

Every call takes an `Idempotency-Key`: the same key answers the same payment, whatever was
asked. Payments live in the process's memory: one sandbox per test or demo, not a ledger.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, Field

from bazaar.commerce.payments.gateway import PaymentStatus, Tender

DECLINES = {
    (Tender.CARD, "tok_decline"): "card_declined",
    (Tender.CARD, "tok_insufficient_funds"): "insufficient_funds",
    (Tender.UPI, "fail@upi"): "upi_declined",
}
Key = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]
SLOW_SOURCE = "tok_slow"
NO_CAPTURE_SOURCE = "tok_no_capture"


@dataclass
class _Payment:
    id: str
    status: PaymentStatus
    amount: Decimal
    currency: str
    tender: Tender
    source: str
    refunded: Decimal = Decimal(0)
    decline_reason: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "amount": str(self.amount),
            "currency": self.currency,
            "tender": self.tender,
            "refunded": str(self.refunded),
            "decline_reason": self.decline_reason,
        }


@dataclass
class SandboxState:
    payments: dict[str, _Payment] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    """Every idempotency key used, to the payment it touched."""
    authorizations: int = 0
    """How many distinct authorizations were made: a repeated key is not one."""


class _Authorize(BaseModel):
    amount: str = Field(pattern=r"^\d{1,12}(\.\d{1,3})?$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tender: Tender
    source: str = Field(min_length=1, max_length=100)


class _Refund(BaseModel):
    amount: str = Field(pattern=r"^\d{1,12}(\.\d{1,3})?$")


def create_sandbox(api_key: str, *, slow_seconds: float = 3.0) -> FastAPI:
    app = FastAPI(title="Bazaar payment sandbox", docs_url=None, redoc_url=None)
    state = SandboxState()
    app.state.sandbox = state

    def authorized(authorization: Annotated[str, Header()] = "") -> None:
        if not secrets.compare_digest(authorization, f"Bearer {api_key}"):
            raise HTTPException(401, "bad API key")

    def payment(payment_id: str) -> _Payment:
        found = state.payments.get(payment_id)
        if found is None:
            raise HTTPException(404, "no such payment")
        return found

    @app.post("/v1/payments", dependencies=[Depends(authorized)])
    async def authorize(body: _Authorize, key: Key) -> dict[str, Any]:
        if key in state.keys:
            return state.payments[state.keys[key]].body()
        try:
            amount = Decimal(body.amount)
        except InvalidOperation as exc:  # the pattern admits only numbers; kept for safety
            raise HTTPException(422, "bad amount") from exc
        reason = DECLINES.get((body.tender, body.source))
        made = _Payment(
            id=f"pay_{secrets.token_hex(8)}",
            status=PaymentStatus.DECLINED if reason else PaymentStatus.AUTHORIZED,
            amount=amount,
            currency=body.currency,
            tender=body.tender,
            source=body.source,
            decline_reason=reason,
        )
        state.payments[made.id] = made
        state.keys[key] = made.id
        if not reason:
            state.authorizations += 1
        if body.source == SLOW_SOURCE:
            await asyncio.sleep(slow_seconds)  # recorded first: the caller's status check finds it
        return made.body()

    @app.post("/v1/payments/{payment_id}/capture", dependencies=[Depends(authorized)])
    async def capture(payment_id: str, key: Key) -> dict[str, Any]:
        found = payment(payment_id)
        if found.source == NO_CAPTURE_SOURCE:
            raise HTTPException(503, "capture unavailable")
        state.keys.setdefault(key, found.id)
        if found.status is PaymentStatus.AUTHORIZED:
            found.status = PaymentStatus.CAPTURED
        elif found.status is not PaymentStatus.CAPTURED:
            raise HTTPException(409, f"a {found.status} payment is not captured")
        return found.body()

    @app.post("/v1/payments/{payment_id}/refund", dependencies=[Depends(authorized)])
    async def refund(payment_id: str, body: _Refund, key: Key) -> dict[str, Any]:
        found = payment(payment_id)
        if state.keys.get(key) == found.id:
            return found.body()  # this refund was made already
        state.keys[key] = found.id
        amount = Decimal(body.amount)
        if found.status is PaymentStatus.AUTHORIZED:
            found.status = PaymentStatus.VOIDED
        elif found.status is PaymentStatus.CAPTURED and found.refunded + amount <= found.amount:
            found.refunded += amount
            if found.refunded == found.amount:
                found.status = PaymentStatus.REFUNDED
        else:
            raise HTTPException(409, f"a {found.status} payment cannot refund {amount}")
        return found.body()

    @app.get("/v1/payments", dependencies=[Depends(authorized)])
    async def status(idempotency_key: Annotated[str, Query()]) -> dict[str, Any]:
        if idempotency_key not in state.keys:
            raise HTTPException(404, "no payment for that key")
        return state.payments[state.keys[idempotency_key]].body()

    return app
