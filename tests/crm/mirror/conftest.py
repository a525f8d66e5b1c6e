"""Sync fixtures: a connection to a fresh fake CRM and helpers that run a sync through the
API and wait for it, and read both sides."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.crm.conftest import API, Crm
from tests.crm.fake_crm import FakeServer


@dataclass
class Mirror:
    crm: Crm
    server: FakeServer
    connection: dict[str, Any]

    @property
    def fake(self) -> Any:
        return self.server.crm

    async def configure(self, **settings: Any) -> None:
        answer = await self.crm.send(
            "PUT",
            f"crm/connections/{self.connection['id']}",
            self.crm.admin,
            version=self.connection["version"],
            **settings,
        )
        assert answer.status_code == 200, answer.text
        self.connection = answer.json()

    async def start(self) -> str:
        answer = await self.crm.send(
            "POST", f"crm/connections/{self.connection['id']}/sync", self.crm.admin
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["run_id"])

    async def wait(self, run_id: str) -> dict[str, Any]:
        for _ in range(600):
            answer = await self.crm.get(f"crm/runs/{run_id}", self.crm.admin)
            assert answer.status_code == 200, answer.text
            run = dict(answer.json())
            if run["status"] != "running":
                return run
            await asyncio.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish")

    async def sync(self, *, expect: str = "succeeded") -> dict[str, Any]:
        run = await self.wait(await self.start())
        assert run["status"] == expect, run
        return run

    async def local(self, path: str) -> dict[str, Any] | None:
        answer = await self.crm.get(path, self.crm.admin)
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def locals(self, resource: str) -> list[dict[str, Any]]:
        answer = await self.crm.get(resource, self.crm.admin, limit=200)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def remote(self, resource: str, record_id: str) -> dict[str, Any]:
        return dict(self.fake.records[resource][record_id])

    def remote_by_bazaar_id(self, resource: str, local_id: str) -> dict[str, Any]:
        found = [r for r in self.fake.records[resource].values() if r.get("bazaar_id") == local_id]
        assert len(found) == 1, found
        return dict(found[0])

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The app's `bazaar_crm_*` samples on `/metrics`: (name, sorted labels) -> value."""
        answer = await self.crm.http.get("/metrics")
        assert answer.status_code == 200, answer.text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            if family.name.startswith("bazaar_crm_")
            for sample in family.samples
        }

    async def conflicts(self, **params: Any) -> list[dict[str, Any]]:
        answer = await self.crm.get("crm/conflicts", self.crm.admin, **params)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])


async def connect(crm: Crm, server: FakeServer, **settings: Any) -> dict[str, Any]:
    body = {
        "name": f"Company CRM {server.port}",
        "base_url": server.url,
        "auth_type": "api_key",
        "api_key": server.crm.api_key,
        "rate_limit_per_minute": 6000,
        "max_retries": 1,
        **settings,
    }
    answer = await crm.http.post(f"{API}/crm/connections", json=body, headers=crm.admin.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture
async def mirror(crm: Crm, fake_crm: FakeServer) -> Mirror:
    return Mirror(crm, fake_crm, await connect(crm, fake_crm))
