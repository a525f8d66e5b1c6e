"""Commerce fixtures: a shop keeper (admin) who lists products and receives stock, and buyers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bazaar.auth.roles import Role
from bazaar.commerce.payments.sandbox import SandboxState, create_sandbox
from bazaar.config import SANDBOX_GATEWAY_KEY
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.conftest import LiveServer

API = "/api/v1"


@dataclass
class Shopkeeper:
    client: httpx.AsyncClient
    staff: LoggedInUser

    async def post(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        answer = await self.client.post(f"{API}{path}", json=body, headers=self.staff.headers)
        assert answer.status_code == status, answer.text
        return dict(answer.json())

    async def location(self, name: str = "Main warehouse", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "kind": "warehouse", "address": "1 Dock Road, Pune", **fields}
        return await self.post("/inventory/locations", body)

    async def product(
        self, name: str = "Aero 14 Laptop", skus: tuple[str, ...] = ("SKU-1",), **fields: Any
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "category": "electronics",
            "brand": "Aero",
            "base_price": "1000.00",
            "status": "active",
            "variants": [{"sku": sku} for sku in skus],
            **fields,
        }
        return await self.post("/products", body)

    async def receive(self, variant_id: str, location_id: str, quantity: int) -> dict[str, Any]:
        body = {"variant_id": variant_id, "location_id": location_id, "quantity": quantity}
        return await self.post("/inventory/receive", body)

    async def stocked(
        self, units: int, *, location: dict[str, Any] | None = None, **fields: Any
    ) -> tuple[dict[str, Any], str]:
        """An active product with one variant and `units` of it in one location."""
        where = location or await self.location()
        product = await self.product(**fields)
        variant_id = product["variants"][0]["id"]
        await self.receive(variant_id, where["id"], units)
        return product, variant_id


@pytest.fixture
async def shopkeeper(client: httpx.AsyncClient, login_as: LoginAs) -> Shopkeeper:
    return Shopkeeper(client, await login_as(Role.ADMIN))


async def add_to_cart(
    client: httpx.AsyncClient,
    buyer: LoggedInUser,
    product: dict[str, Any],
    variant_id: str,
    qty: int,
) -> httpx.Response:
    body = {"product_id": product["id"], "variant_id": variant_id, "quantity": qty}
    return await client.post(f"{API}/cart/items", json=body, headers=buyer.headers)


@pytest.fixture
def sandbox() -> Iterator[tuple[str, SandboxState]]:
    """A sandbox payment gateway on 127.0.0.1: its URL, and what it has seen."""
    gateway = create_sandbox(SANDBOX_GATEWAY_KEY, slow_seconds=1.0)
    with LiveServer(gateway) as server:
        yield server.url, gateway.state.sandbox
