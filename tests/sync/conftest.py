"""A hub (the `app` fixture, on each backend) and field nodes: embedded Bazaars on their own
SQLite files whose sync client talks to the hub app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.backends import Backend
from tests.sync.cluster import Cluster, running_cluster

from bazaar.auth.roles import Role
from bazaar.db import Database
from bazaar.main import create_app
from bazaar.migrate import upgrade
from bazaar.sync.worker import CycleReport, SyncWorker, worker_for

API = "/api/v1"


@dataclass
class Node:
    app: FastAPI
    client: httpx.AsyncClient
    worker: SyncWorker
    headers: dict[str, str]

    async def sync(self) -> CycleReport:
        return await self.worker.cycle()

    async def sync_until_quiet(self, rounds: int = 5) -> None:
        for _ in range(rounds):
            report = await self.sync()
            assert report.error is None, report.error
            if report.pushed == report.pulled == 0:
                return
        raise AssertionError("the node did not quiesce")

    async def login(self, email: str, password: str) -> None:
        answer = await self.client.post(
            f"{API}/auth/login", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}


@dataclass
class Hub:
    app: FastAPI
    client: httpx.AsyncClient
    admin: LoggedInUser
    officer: LoggedInUser

    async def api_key_for(self, user: LoggedInUser) -> str:
        answer = await self.client.post(
            f"{API}/api-keys",
            json={"name": "field laptop", "scope": "sync", "owner_id": str(user.id)},
            headers=self.admin.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])


@pytest.fixture
async def hub(app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs) -> Hub:
    return Hub(app, client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def field_node(hub: Hub, tmp_path: Path) -> AsyncIterator[NodeFactory]:
    stack = AsyncExitStack()

    async def start(name: str, officer: LoggedInUser | None = None, **overrides: Any) -> Node:
        officer = officer or hub.officer
        backend = Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / name}.db", None)
        settings = backend.settings(
            node_id=name,
            sync_hub_url="http://hub",
            sync_api_key=await hub.api_key_for(officer),
            **overrides,
        )
        db = Database.from_settings(settings)
        await upgrade(db.engine)
        await db.dispose()
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node")
        )
        worker = await worker_for(app.state.runtime)
        worker.transport = httpx.ASGITransport(app=hub.app)
        node = Node(app, client, worker, {})
        report = await node.sync()
        assert report.error is None, report.error
        await node.login(officer.email, officer.password)
        return node

    async with stack:
        yield start


@pytest.fixture(params=["sqlite", "postgres"])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Real processes: a hub on each backend and a field node for each of its officers (two,
    or as many as the test's `officers` marker says)."""
    marker = request.node.get_closest_marker("officers")
    officers = marker.args[0] if marker else 2
    async with running_cluster(request.param, tmp_path, officers=officers) as running:
        yield running
