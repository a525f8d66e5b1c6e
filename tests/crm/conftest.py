"""CRM fixtures: an admin, two relationship managers and a helper that drives the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoggedInUser, LoginAs
from tests.crm.fake_crm import FakeCRM, FakeServer

API = "/api/v1"


@dataclass
class Crm:
    http: httpx.AsyncClient
    admin: LoggedInUser
    officer: LoggedInUser
    other: LoggedInUser
    """A second officer, outside the first one's book."""

    async def create(
        self, path: str, user: LoggedInUser | None = None, **body: Any
    ) -> dict[str, Any]:
        answer = await self.http.post(
            f"{API}/{path}", json=body, headers=(user or self.officer).headers
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def client(self, user: LoggedInUser | None = None, **fields: Any) -> dict[str, Any]:
        return await self.create("clients", user, **{"name": "Asha Traders", **fields})

    async def project(self, user: LoggedInUser | None = None, **fields: Any) -> dict[str, Any]:
        return await self.create("projects", user, **{"name": "Expansion", **fields})

    async def task(
        self, project_id: str, user: LoggedInUser | None = None, **fields: Any
    ) -> dict[str, Any]:
        return await self.create(
            "tasks", user, **{"title": "Call back", "project_id": project_id, **fields}
        )

    async def get(
        self, path: str, user: LoggedInUser | None = None, **params: Any
    ) -> httpx.Response:
        return await self.http.get(
            f"{API}/{path}", params=params, headers=(user or self.officer).headers
        )

    async def send(
        self, method: str, path: str, user: LoggedInUser | None = None, **body: Any
    ) -> httpx.Response:
        return await self.http.request(
            method, f"{API}/{path}", json=body or None, headers=(user or self.officer).headers
        )


@pytest.fixture
async def crm(client: httpx.AsyncClient, login_as: LoginAs) -> Crm:
    return Crm(
        client,
        await login_as(Role.ADMIN),
        await login_as(Role.OFFICER),
        await login_as(Role.OFFICER),
    )


@pytest.fixture
def fake_crm() -> Iterator[FakeServer]:
    """A fresh fake external CRM on 127.0.0.1 (see fake_crm.py)."""
    with FakeServer(FakeCRM()) as server:
        yield server
