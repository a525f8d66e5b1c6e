"""The one commit per request, and events that leave only after it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bazaar.db import SessionDep
from bazaar.events import Event, record_event
from bazaar.leader import LeaderLease
from bazaar.stamps import utcnow
from tests.backends import Backend, empty


@dataclass(frozen=True, kw_only=True)
class LeaseWritten(Event):
    type: ClassVar[str] = "lease_written"
    notification: ClassVar[str | None] = None
    name: str


@dataclass(frozen=True, kw_only=True)
class Kept(Event):
    type: ClassVar[str] = "kept"
    notification: ClassVar[str | None] = None


@dataclass(frozen=True, kw_only=True)
class Discarded(Event):
    type: ClassVar[str] = "discarded"
    notification: ClassVar[str | None] = None


@pytest.fixture
def app_with_routes(app: FastAPI) -> FastAPI:
    def lease(name: str) -> LeaderLease:
        return LeaderLease(name=name, holder="test", expires_at=utcnow() + timedelta(minutes=1))

    @app.post("/write/{name}")
    async def write(name: str, session: SessionDep) -> dict[str, str]:
        session.add(lease(name))
        record_event(session, LeaseWritten(name=name))
        return {"written": name}

    @app.post("/write-then-fail-at-commit/{name}")
    async def fail_at_commit(name: str, session: SessionDep) -> dict[str, str]:
        # Not flushed: the duplicate key only surfaces when the dependency commits.
        session.add(lease("side-effect"))
        session.add(lease(name))
        record_event(session, LeaseWritten(name=name))
        return {"written": name}

    @app.post("/savepoint")
    async def savepoint(session: SessionDep) -> dict[str, str]:
        record_event(session, Kept())
        nested = await session.begin_nested()
        record_event(session, Discarded())
        await nested.rollback()
        return {}

    return app


async def names(app: FastAPI) -> set[str]:
    async with app.state.runtime.db.sessionmaker() as session:
        return set((await session.scalars(select(LeaderLease.name))).all())


async def test_write_commits_and_publishes_after_commit(
    app_with_routes: FastAPI, client: httpx.AsyncClient, published_events: list[Event]
) -> None:
    response = await client.post("/write/a")
    assert response.status_code == 200
    assert await names(app_with_routes) == {"a"}
    assert [e.data for e in published_events] == [{"name": "a"}]


async def test_failure_at_commit_is_an_error_and_leaves_nothing(
    app_with_routes: FastAPI, client: httpx.AsyncClient, published_events: list[Event]
) -> None:
    assert (await client.post("/write/dup")).status_code == 200
    published_events.clear()

    response = await client.post("/write-then-fail-at-commit/dup")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert await names(app_with_routes) == {"dup"}  # the side effect was rolled back too
    assert published_events == []  # nothing published for a rolled-back transaction


async def test_events_of_a_rolled_back_savepoint_are_discarded(
    app_with_routes: FastAPI, client: httpx.AsyncClient, published_events: list[Event]
) -> None:
    assert (await client.post("/savepoint")).status_code == 200
    assert [e.type for e in published_events] == ["kept"]


async def test_a_failing_subscriber_does_not_fail_the_request(
    app_with_routes: FastAPI, client: httpx.AsyncClient, published_events: list[Event]
) -> None:
    async def broken(events: Sequence[Event]) -> None:
        raise RuntimeError("subscriber bug")

    app_with_routes.state.runtime.events._subscribers.insert(0, broken)
    response = await client.post("/write/b")
    assert response.status_code == 200
    assert [e.data for e in published_events] == [{"name": "b"}]


async def test_concurrent_writes_all_commit(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    # On SQLite this needs IMMEDIATE write transactions: deferred ones fail with SQLITE_BUSY.
    import asyncio

    responses = await asyncio.gather(*(client.post(f"/write/w{i}") for i in range(40)))
    assert [r.status_code for r in responses] == [200] * 40
    assert await names(app_with_routes) == {f"w{i}" for i in range(40)}


async def test_a_writer_that_cannot_get_its_turn_gets_503_with_retry_after(
    backend: Backend,
) -> None:
    if backend.name != "sqlite":
        pytest.skip("the in-process writer queue exists only for SQLite's single writer")
    import asyncio

    from bazaar.main import create_app

    app = create_app(backend.settings(sqlite_busy_timeout_ms=200))

    @app.post("/hold")
    async def hold(session: SessionDep) -> dict[str, str]:
        session.add(LeaderLease(name="held", holder="t", expires_at=utcnow()))
        await session.flush()  # the write transaction (and the writer's turn) begins here
        await asyncio.sleep(1)
        return {}

    @app.post("/write")
    async def write(session: SessionDep) -> dict[str, str]:
        session.add(LeaderLease(name="other", holder="t", expires_at=utcnow()))
        return {}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            holding = asyncio.create_task(http.post("/hold"))
            await asyncio.sleep(0.2)
            blocked = await http.post("/write")
            assert (await holding).status_code == 200
            retried = await http.post("/write")
        await empty(backend, app.state.runtime.db)
    assert blocked.status_code == 503
    assert blocked.json()["error"]["code"] == "database_busy"
    assert blocked.headers["Retry-After"] == "1"
    assert retried.status_code == 200
