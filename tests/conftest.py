"""Fixtures shared by every test: backends, the app, an HTTP client and a live server."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.config import Settings
from bazaar.db import Database
from bazaar.events import Event
from bazaar.main import create_app
from tests.backends import Backend, empty, open_backend

pytest_plugins: list[str] = ["tests.auth_fixtures"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    async for opened in open_backend(request.param, tmp):
        yield opened


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return backend.settings()


@pytest.fixture
async def app(backend: Backend, settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty(backend, application.state.runtime.db)


@pytest.fixture
def published_events(app: FastAPI) -> list[Event]:
    """Every event the app publishes after a commit, in order."""
    seen: list[Event] = []

    async def collect(batch: Sequence[Event]) -> None:
        seen.extend(batch)

    app.state.runtime.events.subscribe(collect)
    return seen


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def db_session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    async with app.state.runtime.db.sessionmaker() as session:
        yield session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real Uvicorn on 127.0.0.1 in a thread with its own event loop."""

    def __init__(self, application: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.025)
        raise RuntimeError("live server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def schemathesis_headers() -> dict[str, str]:
    """Headers the schemathesis run sends; identity overrides this to authenticate."""
    return {}


@pytest.fixture
def live_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def live_server(
    backend: Backend, settings: Settings, live_app: FastAPI
) -> AsyncIterator[str]:
    with LiveServer(live_app) as server:
        yield server.url
    db = Database.from_settings(settings)
    try:
        await empty(backend, db)
    finally:
        await db.dispose()
