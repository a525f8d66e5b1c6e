"""Stock as staff keep it: locations, receipts, adjustments, the ledger, and how a reservation
is split across locations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bazaar.auth.roles import Role
from bazaar.config import Settings
from tests.auth_fixtures import LoginAs
from tests.backends import Backend
from tests.commerce.conftest import API, Shopkeeper, add_to_cart


async def levels(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, product: dict[str, Any]
) -> dict[str, tuple[int, int]]:
    answer = await client.get(
        f"{API}/products/inventory/{product['id']}", headers=shopkeeper.staff.headers
    )
    return {
        lv["location"]["name"]: (lv["on_hand"], lv["reserved"]) for lv in answer.json()["levels"]
    }


async def test_adjustments_never_go_below_what_carts_hold(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    where = await shopkeeper.location()
    product, variant = await shopkeeper.stocked(5, location=where)
    buyer = await login_as(Role.CUSTOMER)
    await add_to_cart(client, buyer, product, variant, 3)
    body = {"variant_id": variant, "location_id": where["id"], "delta": -3, "note": "broken"}
    refused = await client.post(
        f"{API}/inventory/adjust", json=body, headers=shopkeeper.staff.headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"on_hand": 5, "reserved": 3}
    body["delta"] = -2
    done = await client.post(f"{API}/inventory/adjust", json=body, headers=shopkeeper.staff.headers)
    assert (done.status_code, done.json()["on_hand_delta"]) == (201, -2)
    assert await levels(client, shopkeeper, product) == {"Main warehouse": (3, 3)}
    ledger = await client.get(
        f"{API}/inventory/movements",
        params={"variant_id": variant},
        headers=shopkeeper.staff.headers,
    )
    moves = ledger.json()["items"]
    assert [(m["kind"], m["on_hand_delta"], m["reserved_delta"]) for m in moves] == [
        ("received", 5, 0),
        ("reserved", 0, 3),
        ("adjusted", -2, 0),
    ]


async def test_a_retried_receipt_is_counted_once(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper
) -> None:
    where = await shopkeeper.location()
    product = await shopkeeper.product()
    body = {"variant_id": product["variants"][0]["id"], "location_id": where["id"], "quantity": 4}
    headers = {**shopkeeper.staff.headers, "Idempotency-Key": "po-4711"}
    first = await client.post(f"{API}/inventory/receive", json=body, headers=headers)
    again = await client.post(f"{API}/inventory/receive", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await levels(client, shopkeeper, product) == {"Main warehouse": (4, 0)}


async def test_unknown_variant_or_location_and_duplicate_names(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper
) -> None:
    where = await shopkeeper.location()
    product = await shopkeeper.product()
    nowhere = "01930000-0000-7000-8000-000000000099"
    for variant_id, location_id, code in (
        (nowhere, where["id"], "variant_not_found"),
        (product["variants"][0]["id"], nowhere, "location_not_found"),
    ):
        body = {"variant_id": variant_id, "location_id": location_id, "quantity": 1}
        answer = await client.post(
            f"{API}/inventory/receive", json=body, headers=shopkeeper.staff.headers
        )
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, code)
    again = await client.post(
        f"{API}/inventory/locations",
        json={"name": where["name"], "kind": "store", "address": "x"},
        headers=shopkeeper.staff.headers,
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "location_name_taken")


async def split(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> dict[str, tuple[int, int]]:
    first = await shopkeeper.location("First", priority=1)
    second = await shopkeeper.location("Second", priority=2)
    product, variant = await shopkeeper.stocked(3, location=first)
    await shopkeeper.receive(variant, second["id"], 5)
    buyer = await login_as(Role.CUSTOMER)
    assert (await add_to_cart(client, buyer, product, variant, 4)).status_code == 201
    return await levels(client, shopkeeper, product)


async def test_a_line_no_location_covers_is_split_in_priority_order(
    client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
) -> None:
    assert await split(client, shopkeeper, login_as) == {"First": (3, 3), "Second": (5, 1)}


class TestHighestStockFirst:
    @pytest.fixture
    def settings(self, backend: Backend) -> Settings:
        return backend.settings(commerce_allocation="highest_stock")

    async def test_the_fullest_location_gives_first(
        self, app: FastAPI, client: httpx.AsyncClient, shopkeeper: Shopkeeper, login_as: LoginAs
    ) -> None:
        assert await split(client, shopkeeper, login_as) == {"First": (3, 0), "Second": (5, 4)}
