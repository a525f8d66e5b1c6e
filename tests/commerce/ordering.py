"""Placing orders through the sandbox gateway (`sandbox` in conftest.py): helpers that check
out and order, and the gateway settings a test module points its app with."""

from __future__ import annotations

import uuid

import httpx

from bazaar.commerce.payments.sandbox import SandboxState
from bazaar.config import Settings
from tests.auth_fixtures import LoggedInUser
from tests.backends import Backend
from tests.commerce.conftest import API, Shopkeeper, add_to_cart

ADDRESS = {
    "full_name": "Bina Buyer",
    "line1": "12 MG Road",
    "city": "Pune",
    "postal_code": "411001",
    "phone": "+91 98200 00000",
}
CARD = {"method": "card", "token": "tok_visa"}


def gateway_settings(backend: Backend, sandbox: tuple[str, SandboxState]) -> Settings:
    """The app's settings, charging through the test's sandbox; a short timeout so that the
    slow card times out."""
    url, _ = sandbox
    return backend.settings(payment_gateway_url=url, payment_gateway_timeout_seconds=0.4)


def gateway_state(sandbox: tuple[str, SandboxState]) -> SandboxState:
    return sandbox[1]


async def checked_out(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, buyer: LoggedInUser, units: int = 2
) -> tuple[str, str]:
    """A checkout session of `units` of a new 1,000.00 product stocked with 5 at a new
    location; and the variant."""
    where = await shopkeeper.location(f"Warehouse {uuid.uuid4().hex[:8]}")
    product, variant = await shopkeeper.stocked(
        5, location=where, skus=(f"SKU-{uuid.uuid4().hex[:8]}",)
    )
    assert (await add_to_cart(client, buyer, product, variant, units)).status_code == 201
    session = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert session.status_code == 201, session.text
    return session.json()["id"], variant


async def order(
    client: httpx.AsyncClient,
    buyer: LoggedInUser,
    checkout_id: str,
    key: str,
    payment: dict[str, str] = CARD,
) -> httpx.Response:
    body = {"checkout_session_id": checkout_id, "address": ADDRESS, "payment": payment}
    headers = {**buyer.headers, "Idempotency-Key": key}
    return await client.post(f"{API}/orders", json=body, headers=headers)
