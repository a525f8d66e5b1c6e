"""A hypothesis state machine over receive / adjust / reserve (add, raise) / release (lower,
remove) / expire, through the API and the sweeper, with two locations and three buyers.

After every step, from the database: each stock row's on hand and reserved are the sums of its
ledger's deltas; reserved is the sum of the live holds there; available is never negative; on
hand is what the accepted receipts and adjustments made it; no cart line holds more than its
quantity. (Selling and returning come with orders and returns.)
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from bazaar.auth.roles import Role
from bazaar.commerce import inventory
from bazaar.commerce.models import CartItem, StockHold, StockLevel, StockMovement
from bazaar.config import Settings
from bazaar.db import unit_of_work
from bazaar.main import create_app
from bazaar.stamps import utcnow
from tests.auth_fixtures import LoggedInUser, create_logged_in_user
from tests.backends import Backend, empty
from tests.commerce.conftest import API, Shopkeeper, add_to_cart
from tests.lending.test_balance_machine import LoopThread

T = TypeVar("T")


class World:
    def __init__(self, worker: LoopThread, app: Any, shopkeeper: Shopkeeper) -> None:
        self.worker, self.app, self.shopkeeper = worker, app, shopkeeper
        self.buyers: list[LoggedInUser] = []


@pytest.fixture
def world(backend: Backend, settings: Settings) -> Iterator[World]:
    worker = LoopThread()
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    worker.run(lifespan.__aenter__())

    async def start() -> World:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        staff = await create_logged_in_user(app.state, Role.ADMIN)
        made = World(worker, app, Shopkeeper(client, staff))
        made.buyers = [await create_logged_in_user(app.state, Role.CUSTOMER) for _ in range(3)]
        return made

    made = worker.run(start())
    try:
        yield made
    finally:
        worker.run(made.shopkeeper.client.aclose())
        worker.run(empty(backend, app.state.runtime.db))
        worker.run(lifespan.__aexit__(None, None, None))
        worker.stop()


class Stock(RuleBasedStateMachine):
    world: World

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.world.worker.run(coroutine)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.world.shopkeeper.client

    @initialize()
    def open_shop(self) -> None:
        keeper = self.world.shopkeeper
        tag = uuid.uuid4().hex[:8]
        self.locations = [
            self.call(keeper.location(f"Near {tag}", priority=1))["id"],
            self.call(keeper.location(f"Far {tag}", priority=2))["id"],
        ]
        self.product = self.call(keeper.product(skus=(f"SKU-{tag}",)))
        self.variant = self.product["variants"][0]["id"]
        self.on_hand = {location: 0 for location in self.locations}
        self.lines: dict[int, str] = {}

    @rule(where=st.integers(0, 1), units=st.integers(1, 5))
    def receive(self, where: int, units: int) -> None:
        self.call(self.world.shopkeeper.receive(self.variant, self.locations[where], units))
        self.on_hand[self.locations[where]] += units

    @rule(where=st.integers(0, 1), delta=st.integers(-5, 5).filter(bool))
    def adjust(self, where: int, delta: int) -> None:
        location = self.locations[where]
        body = {
            "variant_id": self.variant,
            "location_id": location,
            "delta": delta,
            "note": "count",
        }
        answer = self.call(
            self.client.post(
                f"{API}/inventory/adjust", json=body, headers=self.world.shopkeeper.staff.headers
            )
        )
        if answer.status_code == 201:
            self.on_hand[location] += delta
        else:
            assert answer.json()["error"]["code"] == "stock_below_reserved", answer.text
            details = answer.json()["error"]["details"]
            assert details["on_hand"] + delta < details["reserved"]

    @rule(buyer=st.integers(0, 2), units=st.integers(1, 4))
    def add(self, buyer: int, units: int) -> None:
        answer = self.call(
            add_to_cart(self.client, self.world.buyers[buyer], self.product, self.variant, units)
        )
        if answer.status_code == 201:
            line = next(i for i in answer.json()["items"] if i["variant_id"] == self.variant)
            self.lines[buyer] = line["id"]
        else:
            error = answer.json()["error"]
            assert error["code"] == "insufficient_stock", answer.text
            assert error["details"]["available"] < error["details"]["requested"]

    @rule(buyer=st.integers(0, 2), quantity=st.integers(1, 6))
    def set_quantity(self, buyer: int, quantity: int) -> None:
        if buyer not in self.lines:
            return
        answer = self.call(
            self.client.put(
                f"{API}/cart/items/{self.lines[buyer]}",
                json={"quantity": quantity},
                headers=self.world.buyers[buyer].headers,
            )
        )
        assert answer.status_code in (200, 409), answer.text

    @rule(buyer=st.integers(0, 2))
    def remove(self, buyer: int) -> None:
        if buyer not in self.lines:
            return
        answer = self.call(
            self.client.delete(
                f"{API}/cart/items/{self.lines.pop(buyer)}",
                headers=self.world.buyers[buyer].headers,
            )
        )
        assert answer.status_code == 200, answer.text

    @rule()
    def expire(self) -> None:
        async def sweep() -> None:
            runtime = self.world.app.state.runtime
            async with unit_of_work(runtime.db, runtime.events) as session:
                await inventory.release_expired(
                    session=session, now=utcnow() + timedelta(minutes=16)
                )

        self.call(sweep())

    @invariant()
    def the_ledger_and_the_holds_add_up(self) -> None:
        if not hasattr(self, "variant"):
            return
        levels, ledger, holds, lines = self.call(self._read())
        for location, (on_hand, reserved) in levels.items():
            assert (on_hand, reserved) == ledger[location]
            assert reserved == holds.get(location, 0)
            assert 0 <= reserved <= on_hand
            assert on_hand == self.on_hand[location]
        for quantity, held in lines:
            assert held <= quantity

    async def _read(self) -> tuple[Any, Any, Any, Any]:
        variant = uuid.UUID(self.variant)
        async with self.world.app.state.runtime.db.sessionmaker() as session:
            levels = {
                str(row.location_id): (row.on_hand, row.reserved)
                for row in (
                    await session.execute(
                        select(StockLevel).where(StockLevel.variant_id == variant)
                    )
                ).scalars()
            }
            ledger = {
                str(location): (int(on_hand), int(reserved))
                for location, on_hand, reserved in await session.execute(
                    select(
                        StockMovement.location_id,
                        func.sum(StockMovement.on_hand_delta),
                        func.sum(StockMovement.reserved_delta),
                    )
                    .where(StockMovement.variant_id == variant)
                    .group_by(StockMovement.location_id)
                )
            }
            holds = {
                str(location): int(units)
                for location, units in await session.execute(
                    select(StockHold.location_id, func.sum(StockHold.quantity))
                    .where(StockHold.variant_id == variant)
                    .group_by(StockHold.location_id)
                )
            }
            held = (
                select(StockHold.cart_item_id, func.sum(StockHold.quantity).label("units"))
                .group_by(StockHold.cart_item_id)
                .subquery()
            )
            lines = [
                (quantity, int(units or 0))
                for quantity, units in await session.execute(
                    select(CartItem.quantity, held.c.units)
                    .outerjoin(held, held.c.cart_item_id == CartItem.id)
                    .where(CartItem.variant_id == variant)
                )
            ]
        return levels, ledger, holds, lines


def test_stock_adds_up_after_any_sequence_of_moves(world: World) -> None:
    Stock.world = world
    run_state_machine_as_test(
        Stock,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
