"""A hundred buyers for the last unit: exactly one holds it, the others are told 409, and the
stock row never shows a negative availability. In one process, and across two server
processes on one database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bazaar.auth.context import auth_context
from bazaar.auth.models import User
from bazaar.auth.roles import Role
from bazaar.auth.sessions import start_session
from bazaar.commerce.models import StockHold, StockLevel
from bazaar.db import unit_of_work
from tests.backends import Backend
from tests.commerce.conftest import API, Shopkeeper
from tests.lending.test_payment_idempotency_processes import serving

BUYERS = 100


async def buyers(app: FastAPI) -> list[httpx.Headers]:
    """Signed-in buyers, made without hashing a password each (they never sign in with one)."""
    runtime = app.state.runtime
    context = auth_context(runtime)
    async with unit_of_work(runtime.db, runtime.events) as session:
        users = [
            User(
                email=f"rush-{n}@test.bazaar",
                full_name=f"Buyer {n}",
                role=Role.CUSTOMER,
                password_hash="unusable",
            )
            for n in range(BUYERS)
        ]
        session.add_all(users)
        await session.flush()
        pairs = [await start_session(session=session, context=context, user=u) for u in users]
    return [httpx.Headers({"Authorization": f"Bearer {p.access_token}"}) for p in pairs]


async def rush(
    http: httpx.AsyncClient, urls: list[str], people: list[httpx.Headers], body: dict[str, object]
) -> Counter[tuple[int, str | None]]:
    answers = await asyncio.gather(
        *(
            http.post(f"{urls[n % len(urls)]}{API}/cart/items", json=body, headers=headers)
            for n, headers in enumerate(people)
        )
    )
    return Counter(
        (a.status_code, a.json()["error"]["code"] if a.status_code >= 400 else None)
        for a in answers
    )


async def assert_one_unit_held(app: FastAPI, variant_id: str) -> None:
    async with app.state.runtime.db.sessionmaker() as session:
        level = (
            await session.execute(
                select(StockLevel).where(StockLevel.variant_id == uuid.UUID(variant_id))
            )
        ).scalar_one()
        holds = (await session.execute(select(StockHold.quantity))).scalars().all()
    assert (level.on_hand, level.reserved) == (1, 1)
    assert holds == [1]


async def test_a_hundred_buyers_in_one_process(
    app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper
) -> None:
    product, variant = await shopkeeper.stocked(1)
    body = {"product_id": product["id"], "variant_id": variant, "quantity": 1}
    people = await buyers(app)
    outcome = await rush(client, [""], people, body)
    assert outcome == {(201, None): 1, (409, "insufficient_stock"): BUYERS - 1}
    await assert_one_unit_held(app, variant)


@pytest.mark.slow
async def test_a_hundred_buyers_across_two_processes(
    app: FastAPI,
    backend: Backend,
    tmp_path: Path,
    shopkeeper: Shopkeeper,
) -> None:
    product, variant = await shopkeeper.stocked(1)
    body = {"product_id": product["id"], "variant_id": variant, "quantity": 1}
    people = await buyers(app)
    async with (
        serving(backend, tmp_path) as one,
        serving(backend, tmp_path) as other,
        httpx.AsyncClient(timeout=60) as http,
    ):
        outcome = await rush(http, [one.url, other.url], people, body)
    assert outcome == {(201, None): 1, (409, "insufficient_stock"): BUYERS - 1}
    await assert_one_unit_held(app, variant)
