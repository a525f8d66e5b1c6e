"""The CRM sync manager against the fake CRM (tests/crm/fake_crm.py, a real HTTP server on
127.0.0.1 in a thread of this process):

1. Initial pull of 2,000 records per entity (10,000) at 100 per page, and a bare httpx loop
   fetching the same pages in the same run: ratio = bare time / sync time (target >= 0.7).
2. Incremental sync of 100 records changed in the CRM with 10,000 and then 100,000 records
   already synced: ratio = larger / smaller (target <= 1.5).
3. Under a 600 requests/minute limit on the fake CRM with the connection's limit set to it:
   records per minute achieved / (600 x page size), and the 429s answered (target 0). Pages
   of 20 here: at 100 a page the run is bound by storing (1) rather than by the limit.
`--smoke` shrinks the counts and (3)'s minute to a few seconds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.crm.fake_crm import FakeCRM, FakeServer

from bazaar.config import Settings
from bazaar.crm.mirror import runs
from bazaar.crm.mirror.models import Direction, RunStatus
from bazaar.crm.models import AuthType, CrmConnection
from bazaar.db import unit_of_work
from bazaar.migrate import upgrade
from bazaar.runtime import Runtime
from bench.lending import _database
from bench.portfolio import staff

PAGE = 100
LIMITED_PAGE = 20
ENTITIES = ("users", "clients", "projects", "tasks", "comments")


def seed(crm: FakeCRM, per_entity: int, *, offset: int = 0, at: datetime | None = None) -> None:
    """`per_entity` records of each resource, written at `at` (default an hour ago), each
    pointing at one of what it needs (so a pull maps every reference)."""
    at = at or datetime.now(UTC) - timedelta(hours=1)
    for n in range(offset, offset + per_entity):
        tick = at + timedelta(microseconds=n)
        crm.put(
            "users",
            id=f"u{n}",
            email=f"contact{n}@crm.example",
            name=f"Contact {n}",
            updated_at=tick,
        )
        crm.put(
            "clients", id=f"c{n}", name=f"Client {n}", email=f"c{n}@example.com", updated_at=tick
        )
        crm.put(
            "projects",
            id=f"p{n}",
            name=f"Project {n}",
            status="active",
            client_id=f"c{n}",
            owner_id=f"u{n}",
            updated_at=tick,
        )
        crm.put("tasks", id=f"t{n}", title=f"Task {n}", project_id=f"p{n}", updated_at=tick)
        crm.put(
            "comments",
            id=f"m{n}",
            content=f"Note {n}",
            entity_type="task",
            entity_id=f"t{n}",
            updated_at=tick,
        )


async def bare_pages(url: str, key: str, per_entity: int) -> float:
    """The network part alone: the same pages, fetched and decoded, nothing stored."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"{url}/api/v1/", headers={"X-API-Key": key}) as http:
        for entity in ENTITIES:
            for page in range(1, per_entity // PAGE + 2):
                answer = await http.get(entity, params={"page": page, "per_page": PAGE})
                answer.raise_for_status()
                answer.json()
    return time.perf_counter() - started


async def sync_once(
    runtime: Runtime, connection_id: Any, *, rate_window: int | None = None
) -> float:
    started = time.perf_counter()
    run_id = await runs.start_run(
        db=runtime.db, events=runtime.events, connection_id=connection_id, trigger="bench"
    )
    status = await runs.execute(
        db=runtime.db, events=runtime.events, run_id=run_id, rate_window=rate_window
    )
    elapsed = time.perf_counter() - started
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        run = await runs.get_run(session=session, run_id=run_id)
    if status is not RunStatus.SUCCEEDED:
        raise RuntimeError(f"sync {status.value}: {run.error} {run.failures[:3]}")
    return elapsed


async def connect(runtime: Runtime, server: FakeServer, **settings: Any) -> Any:
    async with unit_of_work(runtime.db, runtime.events) as session:
        connection = CrmConnection(
            name=f"bench {server.port}",
            base_url=server.url,
            auth_type=AuthType.API_KEY,
            api_key=server.crm.api_key,
            lookback_seconds=0,
            **{"direction": Direction.BIDIRECTIONAL, "batch_size": PAGE, **settings},
        )
        session.add(connection)
        await session.flush()
        return connection.id


def change(crm: FakeCRM, count: int) -> None:
    for n in range(count):
        crm.put("clients", id=f"c{n}", notes=f"changed at {time.time()}")


async def _pass(backend: str, url: str, smoke: bool) -> None:
    runtime = Runtime.create(Settings(_env_file=None, environment="test", database_url=url))
    small, large = (200, 1_000) if smoke else (2_000, 20_000)
    try:
        await upgrade(runtime.db.engine)
        async with unit_of_work(runtime.db, runtime.events) as session:
            await staff(session=session)
        with FakeServer(FakeCRM()) as server:
            seed(server.crm, small)
            connection_id = await connect(runtime, server, rate_limit_per_minute=None)
            bare = await bare_pages(server.url, server.crm.api_key, small)
            initial = await sync_once(runtime, connection_id)
            total = 5 * small
            print(
                f"{backend}: initial pull of {total:,} records: {initial:.2f} s "
                f"({total / initial:,.0f} records/s); bare httpx pages {bare:.2f} s; "
                f"ratio {bare / initial:.2f} (target >= 0.7)"
            )
            change(server.crm, 100)
            incremental_small = await sync_once(runtime, connection_id)
            seed(server.crm, large - small, offset=small, at=datetime.now(UTC))
            await sync_once(runtime, connection_id)
            change(server.crm, 100)
            incremental_large = await sync_once(runtime, connection_id)
            print(
                f"{backend}: incremental sync of 100 changes: {incremental_small:.2f} s with "
                f"{total:,} synced, {incremental_large:.2f} s with {5 * large:,}; ratio "
                f"{incremental_large / incremental_small:.2f} (target <= 1.5)"
            )
        await rate_limited(runtime, backend, smoke)
    finally:
        await runtime.close()


async def rate_limited(runtime: Runtime, backend: str, smoke: bool) -> None:
    # The smoke run scales the minute down to 6 s (60 requests), keeping the ratio's meaning.
    window, limit = (6, 60) if smoke else (60, 600)
    with FakeServer(FakeCRM()) as server:
        crm = server.crm
        crm.behaviour.rate_limit_per_minute, crm.behaviour.rate_window = limit, float(window)
        pages = 2 * limit + 1
        seed(crm, pages * LIMITED_PAGE // 5)
        connection_id = await connect(
            runtime,
            server,
            rate_limit_per_minute=limit,
            direction=Direction.PULL,
            batch_size=LIMITED_PAGE,
        )
        elapsed = await sync_once(runtime, connection_id, rate_window=window + 1)
        requests = crm.counts["requests"]
        records = sum(len(records) for records in crm.records.values())
        achieved = records / (elapsed / window)
        ceiling = limit * LIMITED_PAGE
        print(
            f"{backend}: under {limit} requests per {window} s: {records:,} records in "
            f"{elapsed:.1f} s over {requests} requests = {achieved:,.0f} records per window; "
            f"ratio to the ceiling {achieved / ceiling:.2f} (target >= 0.9); "
            f"429s {crm.counts['429']} (target 0)"
        )


def run(smoke: bool) -> None:
    for backend in ("sqlite", "postgres"):
        with _database(backend) as database_url:
            if database_url is not None:
                asyncio.run(_pass(backend, database_url, smoke))
