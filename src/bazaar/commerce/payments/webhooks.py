"""The payment gateway's webhooks: verified by their HMAC signature, applied once per event id.

The signature header is `X-Gateway-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 over `"<t>." + body` with the shared secret (`BAZAAR_PAYMENT_WEBHOOK_SECRET`), as
Stripe signs its events. A signature older than the tolerance is refused, so a captured
request cannot be replayed later; an event id seen before is acknowledged and not applied.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.commerce import orders
from bazaar.commerce.errors import WebhookSignatureInvalid
from bazaar.commerce.models import GatewayEvent
from bazaar.commerce.order_schemas import GatewayWebhook

SIGNATURE_HEADER = "X-Gateway-Signature"
CAPTURED = "payment.captured"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str | None, body: bytes, *, now: float, tolerance: int) -> None:
    parts = dict(item.split("=", 1) for item in (header or "").split(",") if item.count("=") == 1)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        raise WebhookSignatureInvalid(details={"reason": "missing or stale timestamp"})
    if not hmac.compare_digest(sign(secret, body, int(stamp)), f"t={stamp},v1={given}"):
        raise WebhookSignatureInvalid(details={"reason": "signature mismatch"})


async def receive(*, session: AsyncSession, event: GatewayWebhook) -> bool:
    """Applies the event unless it was applied before; True when it is a repeat. Events of
    other types are recorded and acknowledged: the gateway stops resending them."""
    seen = GatewayEvent(event_id=event.id, type=event.type, payment_id=event.data.payment_id)
    try:
        async with session.begin_nested():  # added inside: a repeat's row leaves with it
            session.add(seen)
            await session.flush()
    except IntegrityError:
        return True
    if event.type == CAPTURED:
        await orders.mark_captured(session=session, payment_id=event.data.payment_id)
    return False
