"""A buyer's cart: lines hold stock, totals, checkout, expiry, and nobody else's cart."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from bazaar.auth.roles import Role
from bazaar.commerce import inventory
from bazaar.commerce.events import InventoryUpdated
from bazaar.commerce.models import StockLevel, StockMovement
from bazaar.db import unit_of_work
from bazaar.events import Event
from bazaar.stamps import utcnow
from tests.auth_fixtures import LoginAs
from tests.commerce.conftest import API, Shopkeeper, add_to_cart


async def stock(app: FastAPI, variant_id: str) -> tuple[int, int]:
    async with app.state.runtime.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(func.sum(StockLevel.on_hand), func.sum(StockLevel.reserved)).where(
                    StockLevel.variant_id == uuid.UUID(variant_id)
                )
            )
        ).one()
        return int(row[0]), int(row[1])


async def test_adding_holds_stock_and_the_same_variant_adds_up(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(5, base_price="120.00")
    buyer = await login_as(Role.CUSTOMER)
    assert (await add_to_cart(client, buyer, product, variant, 2)).status_code == 201
    answer = await add_to_cart(client, buyer, product, variant, 1)
    cart = answer.json()
    [line] = cart["items"]
    assert (line["quantity"], line["reserved"], line["line_total"]) == (3, 3, "360.00")
    assert cart["totals"] == {
        "currency": "INR",
        "subtotal": "360.00",
        "coupon_discount": "0.00",
        "tier": "bronze",
        "tier_discount": "0.00",
        "points_redeemed": 0,
        "points_discount": "0.00",
        "tax": "28.80",
        "shipping": "50.00",
        "total": "438.80",
    }
    assert await stock(app, variant) == (5, 3)
    total = await client.get(f"{API}/cart/total", headers=buyer.headers)
    assert total.json() == cart["totals"]


async def test_not_enough_stock_says_what_is_available(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(4)
    buyer = await login_as(Role.CUSTOMER)
    await add_to_cart(client, buyer, product, variant, 3)
    refused = await add_to_cart(client, buyer, product, variant, 2)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["details"]["available"], error["details"]["requested"]) == (
        "insufficient_stock",
        4,
        5,
    )
    assert await stock(app, variant) == (4, 3)  # the refused request took nothing
    other = await login_as(Role.CUSTOMER)
    second = await add_to_cart(client, other, product, variant, 2)
    assert second.json()["error"]["details"]["available"] == 1


async def test_changing_and_removing_lines_gives_stock_back(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(10)
    buyer = await login_as(Role.CUSTOMER)
    cart = (await add_to_cart(client, buyer, product, variant, 6)).json()
    item = cart["items"][0]["id"]
    lowered = await client.put(
        f"{API}/cart/items/{item}", json={"quantity": 2}, headers=buyer.headers
    )
    assert lowered.json()["items"][0]["reserved"] == 2
    assert await stock(app, variant) == (10, 2)
    raised = await client.put(
        f"{API}/cart/items/{item}", json={"quantity": 9}, headers=buyer.headers
    )
    assert raised.json()["items"][0]["reserved"] == 9
    removed = await client.delete(f"{API}/cart/items/{item}", headers=buyer.headers)
    assert removed.json()["items"] == []
    assert await stock(app, variant) == (10, 0)


async def test_a_buyer_never_reaches_another_buyers_cart(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(10)
    owner, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    item = (await add_to_cart(client, owner, product, variant, 1)).json()["items"][0]["id"]
    url = f"{API}/cart/items/{item}"
    assert (await client.put(url, json={"quantity": 3}, headers=other.headers)).status_code == 404
    assert (await client.delete(url, headers=other.headers)).status_code == 404
    assert (await client.get(f"{API}/cart", headers=other.headers)).json()["items"] == []
    staff = await client.get(f"{API}/cart", headers=shopkeeper.staff.headers)
    assert staff.status_code == 403


async def test_checkout_freezes_lines_and_totals(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(10, base_price="300.00")
    buyer = await login_as(Role.CUSTOMER)
    empty = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert (empty.status_code, empty.json()["error"]["code"]) == (409, "cart_empty")
    await add_to_cart(client, buyer, product, variant, 2)
    session = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert session.status_code == 201, session.text
    body = session.json()
    assert [(i["sku"], i["quantity"], i["line_total"]) for i in body["items"]] == [
        ("SKU-1", 2, "600.00")
    ]
    assert body["totals"]["total"] == "648.00"  # 600 + 48 tax, free shipping
    await client.put(
        f"{API}/products/{product['id']}",
        json={"status": "archived"},
        headers=shopkeeper.staff.headers,
    )
    gone = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (409, "product_not_available")
    cart = (await client.get(f"{API}/cart", headers=buyer.headers)).json()
    line = f"{API}/cart/items/{cart['items'][0]['id']}"
    more = await client.put(line, json={"quantity": 3}, headers=buyer.headers)
    assert (more.status_code, more.json()["error"]["code"]) == (409, "product_not_available")
    less = await client.put(line, json={"quantity": 1}, headers=buyer.headers)
    assert less.json()["items"][0]["reserved"] == 1


async def test_expired_holds_are_swept_and_come_back_with_activity(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    product, variant = await shopkeeper.stocked(3)
    buyer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    await add_to_cart(client, buyer, product, variant, 3)
    runtime = app.state.runtime
    async with unit_of_work(runtime.db, runtime.events) as session:
        assert await inventory.release_expired(session=session, now=utcnow()) == 0
    async with unit_of_work(runtime.db, runtime.events) as session:
        later = utcnow() + timedelta(minutes=16)
        assert await inventory.release_expired(session=session, now=later) == 3
    assert await stock(app, variant) == (3, 0)
    line = (await client.get(f"{API}/cart", headers=buyer.headers)).json()["items"][0]
    assert (line["quantity"], line["reserved"], line["hold_expires_at"]) == (3, 0, None)
    assert (await add_to_cart(client, other, product, variant, 1)).status_code == 201
    short = await client.post(f"{API}/cart/checkout", headers=buyer.headers)
    assert short.json()["error"]["details"]["available"] == 2
    fixed = await client.put(
        f"{API}/cart/items/{line['id']}", json={"quantity": 2}, headers=buyer.headers
    )
    assert fixed.json()["items"][0]["reserved"] == 2
    assert await stock(app, variant) == (3, 3)


async def test_every_availability_change_is_published_with_its_sequence(
    app: FastAPI,
    client: httpx.AsyncClient,
    shopkeeper: Shopkeeper,
    login_as: LoginAs,
    published_events: list[Event],
) -> None:
    product, variant = await shopkeeper.stocked(5)
    buyer = await login_as(Role.CUSTOMER)
    item = (await add_to_cart(client, buyer, product, variant, 2)).json()["items"][0]["id"]
    await add_to_cart(client, buyer, product, variant, 9)  # refused: publishes nothing
    await client.delete(f"{API}/cart/items/{item}", headers=buyer.headers)
    updates = [e for e in published_events if isinstance(e, InventoryUpdated)]
    assert [(u.available, u.sequence) for u in updates] == [(5, 1), (3, 2), (5, 3)]
    assert all(u.product_id == product["id"] and u.audience().everyone for u in updates)
    async with app.state.runtime.db.sessionmaker() as session:
        kinds = (
            await session.execute(select(StockMovement.kind).order_by(StockMovement.id))
        ).scalars()
        assert [k.value for k in kinds] == ["received", "reserved", "released"]
