"""Returns: within the window, partial, back into stock, refunded once to the tender."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bazaar.auth.roles import Role
from bazaar.commerce import returns
from bazaar.commerce.models import OrderStatusChange
from bazaar.commerce.payments.gateway import PaymentStatus
from bazaar.commerce.payments.sandbox import SandboxState
from bazaar.commerce.rules import Shop
from bazaar.config import Settings
from bazaar.stamps import utcnow
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.backends import Backend
from tests.commerce.conftest import API, Shopkeeper
from tests.commerce.ordering import checked_out, gateway_settings, gateway_state, order
from tests.commerce.test_cart import stock


@pytest.fixture
def settings(backend: Backend, sandbox: tuple[str, SandboxState]) -> Settings:
    return gateway_settings(backend, sandbox)


async def delivered_order(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, buyer: LoggedInUser, units: int = 2
) -> tuple[dict[str, Any], str]:
    """A paid order of `units` at 1,000.00, moved to delivered by staff; and its variant."""
    checkout_id, variant = await checked_out(client, shopkeeper, buyer, units)
    placed = (await order(client, buyer, checkout_id, f"order-{checkout_id}")).json()
    for status in ("packed", "shipped", "delivered"):
        moved = await client.post(
            f"{API}/orders/{placed['id']}/status",
            json={"status": status},
            headers=shopkeeper.staff.headers,
        )
        assert moved.status_code == 200, moved.text
    return placed, variant


async def ask_return(
    client: httpx.AsyncClient, buyer: LoggedInUser, placed: dict[str, Any], units: int
) -> httpx.Response:
    line = placed["items"][0]
    body = {"lines": [{"order_line_id": line["id"], "quantity": units}], "reason": "Too big"}
    return await client.post(
        f"{API}/orders/{placed['id']}/return", json=body, headers=buyer.headers
    )


async def move(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, return_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"{API}/returns/{return_id}/status", json=body, headers=shopkeeper.staff.headers
    )


async def test_a_partial_return_goes_back_into_stock_and_is_refunded_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    placed, variant = await delivered_order(client, shopkeeper, buyer)
    assert await stock(app, variant) == (3, 0)

    asked = await ask_return(client, buyer, placed, 1)
    assert asked.status_code == 201, asked.text
    made = asked.json()
    # One of two units: half of what the goods cost with tax (2,160.00 paid, no shipping).
    assert (made["status"], made["refund_amount"]) == ("requested", "1080.00")
    too_many = await ask_return(client, buyer, placed, 2)
    assert too_many.json()["error"]["details"]["returnable"] == 1

    skipped = await move(client, shopkeeper, made["id"], status="received")
    assert skipped.json()["error"]["details"]["allowed"] == ["approved", "rejected"]
    assert (await move(client, shopkeeper, made["id"], status="approved")).status_code == 200
    no_place = await move(client, shopkeeper, made["id"], status="received")
    assert no_place.status_code == 422
    location = await shopkeeper.location("Returns desk")
    received = await move(
        client, shopkeeper, made["id"], status="received", location_id=location["id"]
    )
    assert received.json()["location_id"] == location["id"]
    assert await stock(app, variant) == (4, 0)  # one unit back on hand

    refund_url = f"{API}/returns/{made['id']}/refund"
    refunded = await client.post(refund_url, headers=shopkeeper.staff.headers)
    assert refunded.status_code == 200, refunded.text
    assert [step["status"] for step in refunded.json()["history"]] == [
        "requested",
        "approved",
        "received",
        "refunded",
    ]
    again = await client.post(refund_url, headers=shopkeeper.staff.headers)
    assert again.status_code == 409
    [payment] = gateway_state(sandbox).payments.values()
    assert (payment.refunded, payment.status) == (Decimal(1080), PaymentStatus.CAPTURED)
    mine = (await client.get(f"{API}/returns", headers=buyer.headers)).json()
    assert [r["status"] for r in mine["items"]] == ["refunded"]


async def test_only_a_delivered_order_within_the_window_is_returned_by_its_buyer(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    paid = (await order(client, buyer, checkout_id, "paid")).json()
    early = await ask_return(client, buyer, paid, 1)
    assert (early.status_code, early.json()["error"]["code"]) == (409, "return_window_closed")

    placed, _ = await delivered_order(client, shopkeeper, buyer)
    assert (await ask_return(client, other, placed, 1)).status_code == 404
    async with app.state.runtime.db.sessionmaker() as session:  # delivered 31 days ago
        steps = await session.scalars(
            select(OrderStatusChange).where(OrderStatusChange.order_id == uuid.UUID(placed["id"]))
        )
        for step in steps:
            step.created_at -= timedelta(days=31)
        await session.commit()
    late = await ask_return(client, buyer, placed, 1)
    assert late.json()["error"]["code"] == "return_window_closed"


async def test_a_rejected_return_leaves_its_units_returnable(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    placed, _ = await delivered_order(client, shopkeeper, buyer)
    first = (await ask_return(client, buyer, placed, 2)).json()
    assert (await move(client, shopkeeper, first["id"], status="rejected")).status_code == 200
    assert (await ask_return(client, buyer, placed, 2)).status_code == 201
    by_buyer = await client.post(
        f"{API}/returns/{first['id']}/status", json={"status": "approved"}, headers=buyer.headers
    )
    assert by_buyer.status_code == 403


async def test_an_order_earns_points_for_what_was_kept_once_its_window_closes(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    placed, _ = await delivered_order(client, shopkeeper, buyer)
    returned = (await ask_return(client, buyer, placed, 1)).json()
    shop = Shop.from_settings(app.state.runtime.settings)

    async def credit(days_later: int) -> int:
        async with app.state.runtime.db.sessionmaker() as session:
            credited = await returns.credit_closed_windows(
                session=session, shop=shop, now=utcnow() + timedelta(days=days_later)
            )
            await session.commit()
            return credited

    assert await credit(29) == 0  # the window is open
    assert await credit(31) == 1
    assert await credit(32) == 0  # once
    profile = (await client.get(f"{API}/loyalty/profile", headers=buyer.headers)).json()
    # 2,160.00 paid for the goods, 1,080.00 of it in a return: 1,080 points at 1 per unit.
    assert returned["refund_amount"] == "1080.00"
    assert (profile["lifetime_earned"], profile["tier"]) == (1_080, "silver")
