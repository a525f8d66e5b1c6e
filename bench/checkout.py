"""Checkout: 32 buyers at once on one hot product, each adding a unit, checking out and placing
the order (paid through the sandbox gateway) again and again, on SQLite and, when reachable,
PostgreSQL. Baseline in the same run: the same 32 buyers paying the sandbox directly
(authorize and capture, the two gateway calls an order makes), so the ratio is what Bazaar's
checkout costs beyond the gateway.

Targets (issue 17): order p99 < 300 ms, 0 units oversold, no errors but 409 (sold out).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bazaar.config import SANDBOX_GATEWAY_KEY, Settings
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bench.harness import BIN, Stats, free_port, report, serve_argv, start_server
from bench.lending import _database, migrated_env
from bench.portfolio import PASSWORD, staff

BUYERS = 32
ADDRESS = {
    "full_name": "Bench Buyer",
    "line1": "1 Market Road",
    "city": "Pune",
    "postal_code": "411001",
    "phone": "+91 98200 00000",
}


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    sold_out: int = 0
    errors: list[str] = field(default_factory=list)

    def stats(self, seconds: float, latencies: list[float] | None = None) -> Stats:
        ordered = sorted(self.latencies_ms if latencies is None else latencies)

        def at(fraction: float) -> float:
            return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

        return Stats(len(ordered), seconds, at(0.5), at(0.99), len(self.errors), "httpx")


async def _drive(
    buyers: int, seconds: float, step: Callable[[int], Awaitable[float | None]]
) -> tuple[Tally, float]:
    """`buyers` loops of `step` until the time is up; a step returns its latency in ms, or None
    when the product is sold out (that loop stops)."""
    tally = Tally()
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def buyer(number: int) -> None:
        while time.monotonic() < deadline:
            try:
                took = await step(number)
            except Exception as exc:  # reported, and the run goes on: errors are a figure
                tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if took is None:
                tally.sold_out += 1
                return
            tally.latencies_ms.append(took)

    await asyncio.gather(*(buyer(n) for n in range(buyers)))
    return tally, time.monotonic() - started


async def _sandbox_payments(url: str, seconds: float) -> Stats:
    auth = {"Authorization": f"Bearer {SANDBOX_GATEWAY_KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:

        async def pay(_: int) -> float:
            key = uuid.uuid4().hex
            began = time.perf_counter()
            body = {"amount": "1080.00", "currency": "INR", "tender": "card", "source": "tok_visa"}
            made = await http.post("/v1/payments", json=body, headers={"Idempotency-Key": key})
            made.raise_for_status()
            captured = await http.post(
                f"/v1/payments/{made.json()['id']}/capture",
                headers={"Idempotency-Key": f"{key}-capture"},
            )
            captured.raise_for_status()
            return (time.perf_counter() - began) * 1000

        tally, took = await _drive(BUYERS, seconds, pay)
    return tally.stats(took)


async def _staff_token(http: httpx.AsyncClient) -> dict[str, str]:
    answer = await http.post(
        "/api/v1/auth/login", json={"email": "admin@bench.bazaar", "password": PASSWORD}
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _hot_product(
    http: httpx.AsyncClient, staff: dict[str, str], units: int
) -> dict[str, str]:
    where = await http.post(
        "/api/v1/inventory/locations",
        json={"name": "Bench warehouse", "kind": "warehouse", "address": "1 Dock Road"},
        headers=staff,
    )
    product = await http.post(
        "/api/v1/products",
        json={
            "name": "Hot Kurta",
            "category": "apparel",
            "brand": "Bench",
            "base_price": "1000.00",
            "status": "active",
            "variants": [{"sku": "HOT-1"}],
        },
        headers=staff,
    )
    variant = product.json()["variants"][0]["id"]
    body = {"variant_id": variant, "location_id": where.json()["id"], "quantity": units}
    (await http.post("/api/v1/inventory/receive", json=body, headers=staff)).raise_for_status()
    return {"product_id": product.json()["id"], "variant_id": variant}


async def _buyer_tokens(http: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    tokens = []
    for number in range(count):
        body = {
            "email": f"buyer{number}-{uuid.uuid4().hex[:6]}@bench.bazaar",
            "password": PASSWORD,
            "full_name": f"Bench Buyer {number}",
        }
        (await http.post("/api/v1/auth/signup", json=body)).raise_for_status()
        login = await http.post(
            "/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}
        )
        tokens.append({"Authorization": f"Bearer {login.json()['access_token']}"})
    return tokens


async def _checkouts(
    url: str, units: int, seconds: float, orders_ms: list[float]
) -> tuple[Stats, int, int, Tally]:
    """Purchases by 32 buyers of one product of `units` (the time of each `POST /orders` goes
    to `orders_ms`); and on hand and orders at the end."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        staff = await _staff_token(http)
        item = await _hot_product(http, staff, units)
        buyers = await _buyer_tokens(http, BUYERS)

        async def order(number: int) -> float | None:
            headers = buyers[number]
            began = time.perf_counter()
            added = await http.post(
                "/api/v1/cart/items", json={**item, "quantity": 1}, headers=headers
            )
            if added.status_code == 409:
                return None
            added.raise_for_status()
            checkout = await http.post("/api/v1/cart/checkout", headers=headers)
            checkout.raise_for_status()
            body = {
                "checkout_session_id": checkout.json()["id"],
                "address": ADDRESS,
                "payment": {"method": "card", "token": "tok_visa"},
            }
            ordering = time.perf_counter()
            placed = await http.post(
                "/api/v1/orders",
                json=body,
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            placed.raise_for_status()
            orders_ms.append((time.perf_counter() - ordering) * 1000)
            return (time.perf_counter() - began) * 1000

        tally, took = await _drive(BUYERS, seconds, order)
        stock = await http.get(f"/api/v1/products/inventory/{item['product_id']}", headers=staff)
        on_hand = int(stock.json()["on_hand"])
        orders = (await http.get("/api/v1/orders", headers=staff)).json()["total"]
    return tally.stats(took), on_hand, int(orders), tally


def _pass(backend: str, database_url: str, units: int, seconds: float) -> None:
    env = migrated_env(database_url)
    sandbox_port, port = free_port(), free_port()
    sandbox = [str(BIN / "bazaar"), "commerce", "sandbox-gateway", "--port", str(sandbox_port)]
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **env,
        "BAZAAR_PAYMENT_GATEWAY_URL": sandbox_url,
        # 32 buyers sign up and in from one address: the per-address limits would refuse them.
        "BAZAAR_AUTH_LIMIT_SIGNUP_ADDRESS": "100000/minute",
        "BAZAAR_AUTH_LIMIT_LOGIN_ADDRESS": "100000/minute",
    }
    asyncio.run(_seed_staff(database_url))
    with start_server(sandbox, sandbox_port, env), start_server(serve_argv(port, 1), port, env):
        baseline = asyncio.run(_sandbox_payments(sandbox_url, seconds))
        orders_ms: list[float] = []
        found, on_hand, orders, tally = asyncio.run(
            _checkouts(f"http://127.0.0.1:{port}", units, seconds, orders_ms)
        )
    name = f"[{backend}] {BUYERS} buyers, one product"
    report(f"{name}: sandbox authorize + capture", baseline)
    report(f"{name}: add, check out, order", found, baseline)
    ordering = tally.stats(found.seconds, orders_ms)
    report(f"{name}: POST /api/v1/orders alone", ordering)
    oversold = max(0, orders - units)
    print(
        f"{name}: {orders} orders of {units} units, {on_hand} on hand after, {oversold} oversold"
        f" (target 0); {tally.sold_out} buyers stopped at sold out (409);"
        f" order p99 {ordering.p99_ms:.0f} ms (target < 300); other errors {len(tally.errors)}"
        + (f", first: {tally.errors[0]}" if tally.errors else ""),
        flush=True,
    )


async def _seed_staff(database_url: str) -> None:
    runtime = Runtime.create(
        Settings(_env_file=None, environment="test", database_url=database_url)
    )
    try:
        async with unit_of_work(runtime.db, runtime.events) as session:
            await staff(session=session)
    finally:
        await runtime.close()


def run(smoke: bool) -> None:
    units, seconds = (60, 1.0) if smoke else (2_000, 10.0)
    for backend in ("sqlite", "postgres"):
        with _database(backend) as database_url:
            if database_url is not None:
                _pass(backend, database_url, units, seconds)
