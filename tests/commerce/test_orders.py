"""Orders paid through the sandbox gateway (a real HTTP server on 127.0.0.1): stock sold,
declines, timeouts, idempotency, webhooks, and who may see and move an order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from bazaar.auth.roles import Role
from bazaar.commerce.events import OrderStatusChanged
from bazaar.commerce.payments import webhooks
from bazaar.commerce.payments.sandbox import SandboxState
from bazaar.config import DEV_WEBHOOK_SECRET, Settings
from bazaar.events import Audience, Event
from tests.auth_fixtures import LoginAs
from tests.backends import Backend
from tests.commerce.conftest import API, Shopkeeper, add_to_cart
from tests.commerce.ordering import checked_out, gateway_settings, gateway_state, order
from tests.commerce.test_cart import stock


@pytest.fixture
def settings(backend: Backend, sandbox: tuple[str, SandboxState]) -> Settings:
    return gateway_settings(backend, sandbox)


async def test_an_order_sells_the_held_stock_and_takes_the_lines_out_of_the_cart(
    app: FastAPI,
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
    published_events: list[Event],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, variant = await checked_out(client, shopkeeper, buyer)
    assert await stock(app, variant) == (5, 2)

    placed = await order(client, buyer, checkout_id, "order-1")
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert (body["status"], body["payment_status"]) == ("paid", "captured")
    assert body["number"].startswith("BZ-")
    assert body["tracking_number"].startswith("TRK")
    assert body["totals"]["total"] == "2160.00"  # 2,000.00 + 8 % tax, free shipping
    assert [(i["quantity"], i["line_total"]) for i in body["items"]] == [(2, "2000.00")]
    assert await stock(app, variant) == (3, 0)  # sold: off on hand and reserved
    cart = (await client.get(f"{API}/cart", headers=buyer.headers)).json()
    assert cart["items"] == []
    assert gateway_state(sandbox).authorizations == 1

    tracking = (
        await client.get(f"{API}/orders/{body['id']}/tracking", headers=buyer.headers)
    ).json()
    assert [step["status"] for step in tracking["history"]] == ["placed", "paid"]
    assert tracking["next_status"] == "packed"
    mine = (await client.get(f"{API}/orders", headers=buyer.headers)).json()
    assert [o["id"] for o in mine["items"]] == [body["id"]]
    told = [e for e in published_events if isinstance(e, OrderStatusChanged)]
    assert [e.status for e in told] == ["placed", "paid"]
    assert {e.audience() for e in told} == {Audience(users=(str(buyer.id),))}


async def test_a_declined_payment_leaves_no_order_and_the_cart_as_it_was(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, variant = await checked_out(client, shopkeeper, buyer)
    declined = await order(
        client, buyer, checkout_id, "try-1", {"method": "card", "token": "tok_decline"}
    )
    assert declined.status_code == 402, declined.text
    assert declined.json()["error"]["details"] == {"reason": "card_declined"}
    upi = await order(client, buyer, checkout_id, "try-2", {"method": "upi", "upi_id": "fail@upi"})
    assert upi.json()["error"]["details"] == {"reason": "upi_declined"}
    assert (await client.get(f"{API}/orders", headers=buyer.headers)).json()["total"] == 0
    assert await stock(app, variant) == (5, 2)  # still held for the buyer
    assert len((await client.get(f"{API}/cart", headers=buyer.headers)).json()["items"]) == 1

    another_card = await order(client, buyer, checkout_id, "try-3")
    assert another_card.status_code == 201, another_card.text


async def test_a_timeout_is_settled_by_asking_and_never_charges_twice(
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    slow = {"method": "card", "token": "tok_slow"}
    placed = await order(client, buyer, checkout_id, "slow-1", slow)
    assert placed.status_code == 201, placed.text
    again = await order(client, buyer, checkout_id, "slow-1", slow)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.json()["id"] == placed.json()["id"]
    assert gateway_state(sandbox).authorizations == 1


async def test_the_same_key_at_once_makes_one_order_and_other_keys_are_refused(
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    first, second = await asyncio.gather(
        order(client, buyer, checkout_id, "same"), order(client, buyer, checkout_id, "same")
    )
    assert {first.status_code, second.status_code} <= {200, 201}, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    assert gateway_state(sandbox).authorizations == 1

    other_key = await order(client, buyer, checkout_id, "other")
    assert other_key.status_code == 409
    assert other_key.json()["error"]["details"]["order_id"] == first.json()["id"]
    later_checkout, _ = await checked_out(client, shopkeeper, buyer, units=1)
    reused = await order(client, buyer, later_checkout, "same")
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    listed = (await client.get(f"{API}/orders", headers=buyer.headers)).json()
    assert listed["total"] == 1


async def post_webhook(
    client: httpx.AsyncClient, event: dict[str, Any], secret: str = DEV_WEBHOOK_SECRET
) -> httpx.Response:
    body = orjson.dumps(event)
    signature = webhooks.sign(secret, body, int(time.time()))
    headers = {"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: signature}
    return await client.post(f"{API}/webhooks/payment-gateway", content=body, headers=headers)


async def test_a_capture_told_by_webhook_is_applied_once_and_forgeries_are_refused(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    placed = await order(
        client, buyer, checkout_id, "late", {"method": "card", "token": "tok_no_capture"}
    )
    body = placed.json()
    assert (body["status"], body["payment_status"]) == ("placed", "authorized")

    event = {"id": "evt_1", "type": "payment.captured", "data": {"payment_id": "x"}}
    forged = await post_webhook(client, event, secret="not-the-secret")
    assert (forged.status_code, forged.json()["error"]["code"]) == (
        401,
        "webhook_signature_invalid",
    )
    unsigned = await client.post(f"{API}/webhooks/payment-gateway", json=event)
    assert unsigned.status_code == 401

    event["data"] = {"payment_id": body["payment_id"]}
    for expected_duplicate in (False, True):
        answer = await post_webhook(client, event)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True, "duplicate": expected_duplicate}
    tracking = (
        await client.get(f"{API}/orders/{body['id']}/tracking", headers=buyer.headers)
    ).json()
    assert [step["status"] for step in tracking["history"]] == ["placed", "paid"]


async def test_staff_move_orders_one_step_and_buyers_see_only_their_own(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    placed = (await order(client, buyer, checkout_id, "k")).json()
    url = f"{API}/orders/{placed['id']}"

    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(f"{API}/orders", headers=other.headers)).json()["total"] == 0
    by_buyer = await client.post(f"{url}/status", json={"status": "packed"}, headers=buyer.headers)
    assert by_buyer.status_code == 403
    staff = shopkeeper.staff.headers
    skip = await client.post(f"{url}/status", json={"status": "shipped"}, headers=staff)
    assert skip.status_code == 409
    assert skip.json()["error"]["details"] == {"status": "paid", "allowed": ["packed"]}
    for status in ("packed", "shipped", "delivered"):
        moved = await client.post(f"{url}/status", json={"status": status}, headers=staff)
        assert moved.json()["status"] == status, moved.text
    done = await client.post(f"{url}/status", json={"status": "delivered"}, headers=staff)
    assert done.json()["error"]["details"]["allowed"] == []


async def test_redeemed_points_are_spent_by_the_order(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    goodwill = {"user_id": str(buyer.id), "points": 1_000, "reason": "Welcome"}
    await shopkeeper.post("/loyalty/adjustments", goodwill)
    product, variant = await shopkeeper.stocked(5)
    await add_to_cart(client, buyer, product, variant, 1)
    redeem = {"points": 600}
    await client.post(f"{API}/loyalty/redeem-points", json=redeem, headers=buyer.headers)
    checkout_id = (await client.post(f"{API}/cart/checkout", headers=buyer.headers)).json()["id"]
    placed = (await order(client, buyer, checkout_id, "points")).json()
    assert (placed["totals"]["points_discount"], placed["totals"]["total"]) == (
        "6.00",
        "1073.52",  # 994.00 + 79.52 tax, free shipping
    )
    profile = (await client.get(f"{API}/loyalty/profile", headers=buyer.headers)).json()
    assert (profile["points_balance"], profile["lifetime_redeemed"]) == (400, 600)
    cart = (await client.get(f"{API}/cart", headers=buyer.headers)).json()
    assert cart["redeem_points"] == 0


async def test_a_card_number_is_refused_and_never_charged(
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    pan = {"method": "card", "token": "4242424242424242"}
    answer = await order(client, buyer, checkout_id, "pan", pan)
    assert answer.status_code == 422
    assert "4242424242424242" not in answer.text
    assert gateway_state(sandbox).authorizations == 0


async def test_a_cart_changed_after_checkout_is_refused_and_its_authorization_voided(
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    buyer = await login_as(Role.CUSTOMER)
    checkout_id, _ = await checked_out(client, shopkeeper, buyer)
    [line] = (await client.get(f"{API}/cart", headers=buyer.headers)).json()["items"]
    await client.put(f"{API}/cart/items/{line['id']}", json={"quantity": 1}, headers=buyer.headers)
    stale = await order(client, buyer, checkout_id, "stale")
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "checkout_stale")
    [payment] = gateway_state(sandbox).payments.values()
    assert payment.status == "voided"  # the buyer's money is not held for an order not made


async def test_a_coupons_usage_limit_holds_under_fifty_concurrent_orders(
    app: FastAPI,
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    sandbox: tuple[str, SandboxState],
) -> None:
    await shopkeeper.post(
        "/loyalty/coupons",
        {"code": "FIRST10", "kind": "fixed", "value": "100.00", "usage_limit": 10},
    )
    product, variant = await shopkeeper.stocked(50)
    checkouts = []
    for _ in range(50):
        buyer = await login_as(Role.CUSTOMER)
        await add_to_cart(client, buyer, product, variant, 1)
        applied = await client.post(
            f"{API}/loyalty/apply-coupon", json={"code": "FIRST10"}, headers=buyer.headers
        )
        assert applied.status_code == 200, applied.text
        session = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
        checkouts.append((buyer, session.json()["id"]))

    answers = await asyncio.gather(
        *(order(client, buyer, checkout_id, "go") for buyer, checkout_id in checkouts)
    )
    placed = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(placed) == 10
    assert {(a.status_code, a.json()["error"]["details"]["reason"]) for a in refused} == {
        (422, "usage_limit")
    }
    assert await stock(app, variant) == (40, 40)  # the refused buyers still hold theirs
    coupons = (await client.get(f"{API}/loyalty/coupons", headers=shopkeeper.staff.headers)).json()
    assert [c["times_used"] for c in coupons["items"]] == [10]
    voided = [p for p in gateway_state(sandbox).payments.values() if p.status == "voided"]
    assert len(voided) == 40


async def test_a_buyer_uses_a_coupon_only_as_often_as_it_allows_them(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    await shopkeeper.post(
        "/loyalty/coupons",
        {"code": "ONCE", "kind": "percentage", "value": "5", "per_customer_limit": 1},
    )
    buyer = await login_as(Role.CUSTOMER)
    for attempt in range(2):
        where = await shopkeeper.location(f"Store {attempt}")
        product, variant = await shopkeeper.stocked(3, location=where, skus=(f"ONCE-{attempt}",))
        await add_to_cart(client, buyer, product, variant, 1)
        applied = await client.post(
            f"{API}/loyalty/apply-coupon", json={"code": "once"}, headers=buyer.headers
        )
        if attempt == 1:
            assert applied.json()["error"]["details"]["reason"] == "customer_limit"
            break
        checkout_id = (await client.post(f"{API}/cart/checkout", headers=buyer.headers)).json()[
            "id"
        ]
        placed = await order(client, buyer, checkout_id, "once")
        assert placed.json()["totals"]["coupon_discount"] == "50.00"
    offered = (await client.get(f"{API}/loyalty/coupons", headers=buyer.headers)).json()
    assert offered["total"] == 0
