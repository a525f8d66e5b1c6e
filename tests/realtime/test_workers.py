"""Two server processes sharing Redis behave as one: events, presence and revocations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from tests.auth_fixtures import LoginAs
from tests.conftest import free_port
from tests.realtime.realtime_support import open_socket

from bazaar.auth.roles import Role
from bazaar.config import Settings

API = "/api/v1"


@contextmanager
def second_worker(settings: Settings) -> Iterator[str]:
    """Another Uvicorn process on the same database and Redis; stopped by its pid."""
    port = free_port()
    env = {
        **os.environ,
        "BAZAAR_ENVIRONMENT": settings.environment,
        "BAZAAR_DATABASE_URL": settings.database_url,
        "BAZAAR_REDIS_URL": settings.redis_url or "",
        "BAZAAR_CORS_ORIGINS": ",".join(settings.cors_origins),
        "BAZAAR_SCHEDULER_ENABLED": "false",
        "BAZAAR_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "uvicorn", "bazaar.main:create_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(argv, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the second worker did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def other_worker(settings: Settings, live_server: str) -> Iterator[str]:
    if settings.redis_url is None:
        pytest.skip("embedded mode runs one process; workers share nothing to test")
    with second_worker(settings) as url:
        yield url


async def test_an_event_on_one_worker_reaches_a_socket_on_the_other(
    live_server: str, other_worker: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, customer = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)

    async with (
        open_socket(other_worker, customer.access_token) as there,
        open_socket(live_server, customer.access_token) as here,
    ):
        answer = await http.post(
            f"{API}/notifications/broadcast", json={"message": "hello"}, headers=admin.headers
        )
        assert answer.status_code == 202
        got = [await there.next(), await here.next()]

    assert [(m["type"], m["data"]["message"]) for m in got] == [("system_maintenance", "hello")] * 2
    assert got[0]["offset"] == got[1]["offset"] == answer.json()["offset"]


async def test_presence_counts_sockets_on_both_workers(
    live_server: str, other_worker: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, customer = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)

    async with (
        open_socket(other_worker, customer.access_token),
        open_socket(live_server, customer.access_token),
        open_socket(other_worker, admin.access_token),
    ):
        counts = await http.get(f"{API}/ws/active-connections", headers=admin.headers)
        listed = await http.get(f"{API}/ws/presence", headers=admin.headers)
    async with asyncio.timeout(2):
        while (await http.get(f"{API}/ws/presence", headers=admin.headers)).json()["users"]:  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.05)

    assert counts.json() == {"total_connections": 3, "online_users": 2, "this_worker": 1}
    assert {(u["user_id"], u["connections"]) for u in listed.json()["users"]} == {
        (str(customer.id), 2),
        (str(admin.id), 1),
    }


async def test_logout_on_one_worker_closes_the_socket_on_the_other(
    live_server: str, other_worker: str, http: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    async with open_socket(other_worker, customer.access_token) as there:
        answer = await http.post(f"{API}/auth/logout", headers=customer.headers)
        assert answer.status_code == 204
        assert await there.closed_with(wait=1.0) == 4001
