"""The payment gateway Bazaar charges through: what it must do, and the HTTP adapter for it.

A gateway authorizes an amount on a tender, captures it, refunds it (an authorization that was
never captured is voided instead), and tells the status of a payment by the idempotency key it
was made with. Every call carries such a key, so a call repeated after a lost answer is the
same call to the gateway: a timeout is resolved by asking for the status, never by charging
again (docs/commerce.md#payments).

`HttpGateway` speaks the REST shape the shipped sandbox (`payments/sandbox.py`) serves; an
adapter for a real provider implements `PaymentGateway` with that provider's client and maps
its statuses onto `PaymentStatus`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import httpx

from bazaar.config import Settings
from bazaar.tls import client_context


class PaymentStatus(StrEnum):
    AUTHORIZED = "authorized"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"
    """Refunded in full; a partial refund leaves the payment `captured` with `refunded` > 0."""


class Tender(StrEnum):
    CARD = "card"
    UPI = "upi"


@dataclass(frozen=True)
class GatewayPayment:
    id: str
    status: PaymentStatus
    amount: Decimal
    refunded: Decimal
    decline_reason: str | None


class GatewayUnavailable(Exception):
    """The gateway did not answer, and asking for the status did not settle the outcome: the
    caller must try again with the same key."""


class GatewayRefused(Exception):
    """The gateway refused the call itself (a capture of a declined payment, say)."""


class PaymentGateway(Protocol):
    async def authorize(
        self, *, key: str, amount: Decimal, currency: str, tender: Tender, source: str
    ) -> GatewayPayment: ...

    async def capture(self, *, key: str, payment_id: str) -> GatewayPayment: ...

    async def refund(self, *, key: str, payment_id: str, amount: Decimal) -> GatewayPayment: ...

    async def status(self, *, key: str) -> GatewayPayment | None: ...


def _payment(body: dict[str, Any]) -> GatewayPayment:
    return GatewayPayment(
        id=str(body["id"]),
        status=PaymentStatus(body["status"]),
        amount=Decimal(body["amount"]),
        refunded=Decimal(body["refunded"]),
        decline_reason=body.get("decline_reason"),
    )


CONNECT_SECONDS = 5.0
"""At least this long to connect: a request not yet sent is no charge, so a busy moment of the
gateway's listener should not fail a checkout; the configured timeout bounds its answer."""


class HttpGateway:
    """One short-lived HTTP client per use (`async with`): order placement is not a hot path."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=max(timeout, CONNECT_SECONDS)),
            verify=client_context(),
            headers={"Authorization": f"Bearer {api_key}"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpGateway:
        return cls(
            settings.payment_gateway_url,
            settings.payment_gateway_api_key.get_secret_value(),
            settings.payment_gateway_timeout_seconds,
        )

    async def __aenter__(self) -> HttpGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _call(self, key: str, path: str, body: dict[str, str]) -> GatewayPayment:
        try:
            answer = await self._client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:  # timeouts included: the outcome is unknown
            found = await self.status(key=key)
            if found is None:
                raise GatewayUnavailable(str(exc) or type(exc).__name__) from exc
            return found
        if answer.status_code >= 500:
            raise GatewayUnavailable(f"gateway answered {answer.status_code}")
        if answer.status_code >= 400:
            raise GatewayRefused(answer.text)
        return _payment(answer.json())

    async def authorize(
        self, *, key: str, amount: Decimal, currency: str, tender: Tender, source: str
    ) -> GatewayPayment:
        body = {"amount": str(amount), "currency": currency, "tender": tender, "source": source}
        return await self._call(key, "/v1/payments", body)

    async def capture(self, *, key: str, payment_id: str) -> GatewayPayment:
        return await self._call(key, f"/v1/payments/{payment_id}/capture", {})

    async def refund(self, *, key: str, payment_id: str, amount: Decimal) -> GatewayPayment:
        return await self._call(key, f"/v1/payments/{payment_id}/refund", {"amount": str(amount)})

    async def status(self, *, key: str) -> GatewayPayment | None:
        try:
            answer = await self._client.get("/v1/payments", params={"idempotency_key": key})
        except httpx.TransportError as exc:
            raise GatewayUnavailable(str(exc) or type(exc).__name__) from exc
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise GatewayUnavailable(f"gateway answered {answer.status_code}")
        return _payment(answer.json())
