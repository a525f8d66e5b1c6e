"""HTTP client of a node for its hub."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import httpx

from bazaar import __version__
from bazaar.config import Settings
from bazaar.sync.errors import NotAFieldNode
from bazaar.tls import client_context


class HubClient:
    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if settings.sync_hub_url is None:
            raise NotAFieldNode
        headers = {"User-Agent": f"bazaar-node/{__version__}"}
        if settings.sync_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.sync_api_key.get_secret_value()}"
        self.node_id = settings.node_id
        self._http = httpx.AsyncClient(
            base_url=settings.sync_hub_url.rstrip("/"),
            headers=headers,
            timeout=settings.sync_request_timeout_seconds,
            transport=transport,
            verify=client_context(),
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def probe(self) -> float:
        """Round-trip time of the hub's liveness check, in milliseconds."""
        started = time.perf_counter()
        response = await self._http.get("/health")
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    async def push(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        response = await self._http.post(
            "/api/v1/sync/push", json={"node_id": self.node_id, "items": items}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def pull(self, *, since: int, limit: int, full: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"since": since, "limit": limit, "node_id": self.node_id}
        if full:
            params["full"] = "true"
        response = await self._http.get("/api/v1/sync/changes", params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
