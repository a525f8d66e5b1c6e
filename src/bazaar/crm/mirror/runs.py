"""Starting, running and reporting sync runs. One run per connection at a time, across
processes: a run holds the connection's lease (`bazaar.leader`) from its start, renews it
with every page, and a run whose process died is marked interrupted when the lease lapses
and the next run starts, resuming from the checkpoints."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.crm.client import CRMError
from bazaar.crm.connections import client_for, get_connection
from bazaar.crm.errors import RunNotFound, SyncRunning
from bazaar.crm.mirror.engine import LEASE_TTL, Engine, LeaseLost, Progress, lease_name
from bazaar.crm.mirror.metrics import SyncMetrics
from bazaar.crm.mirror.models import (
    ConflictStatus,
    RunStatus,
    SyncCheckpoint,
    SyncConflict,
    SyncRun,
)
from bazaar.crm.models import ConnectionStatus, CrmConnection
from bazaar.db import Database, unit_of_work
from bazaar.events import EventBus
from bazaar.leader import release, try_acquire
from bazaar.pagination import fetch_page
from bazaar.stamps import new_id, utcnow

log = structlog.get_logger(__name__)

SUCCESS_WINDOW = 20
_background: set[asyncio.Task[RunStatus]] = set()
"""Runs started by the API, referenced until they finish."""


async def start_run(
    *, db: Database, events: EventBus, connection_id: uuid.UUID, trigger: str
) -> uuid.UUID:
    """Record a new run holding the connection's lease, or raise SyncRunning."""
    run_id = new_id()
    async with unit_of_work(db, events) as session:
        await get_connection(session=session, connection_id=connection_id)
        name = lease_name(connection_id)
        if not await try_acquire(session=session, name=name, holder=str(run_id), ttl=LEASE_TTL):
            running = await session.scalar(
                select(SyncRun.id)
                .where(SyncRun.connection_id == connection_id, SyncRun.status == RunStatus.RUNNING)
                .order_by(SyncRun.started_at.desc())
                .limit(1)
            )
            raise SyncRunning(details={"run_id": None if running is None else str(running)})
        await session.execute(
            update(SyncRun)
            .where(SyncRun.connection_id == connection_id, SyncRun.status == RunStatus.RUNNING)
            .values(
                status=RunStatus.INTERRUPTED,
                finished_at=utcnow(),
                error="its process stopped; the next run resumed from the checkpoints",
            )
            .execution_options(synchronize_session=False)
        )
        session.add(
            SyncRun(
                id=run_id, connection_id=connection_id, trigger=trigger, status=RunStatus.RUNNING
            )
        )
    return run_id


async def execute(
    *,
    db: Database,
    events: EventBus,
    run_id: uuid.UUID,
    progress: Progress | None = None,
    metrics: SyncMetrics | None = None,
    rate_window: int | None = None,
) -> RunStatus:
    """Run a started run to its end; never raises for the CRM's or the data's faults: they
    end the run `failed` with the error, the records' own faults end it `partial`."""
    async with unit_of_work(db, events, read_only=True) as session:
        run = await session.get(SyncRun, run_id)
        assert run is not None
        connection = await get_connection(session=session, connection_id=run.connection_id)
        session.expunge(connection)
    started = time.perf_counter()
    engine: Engine | None = None
    error: str | None = None
    heartbeat = asyncio.create_task(_hold_lease(db, events, run.connection_id, run_id))
    try:
        async with client_for(db, events, connection, rate_window=rate_window) as client:
            engine = Engine(
                db=db,
                events=events,
                connection=connection,
                client=client,
                run_id=run_id,
                progress=progress,
            )
            try:
                await engine.run()
            finally:
                if metrics is not None:
                    metrics.observe_client(client)
    except CRMError as exc:
        error = f"{type(exc).__name__}: {exc.message}"
    except LeaseLost as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("crm_sync_failed", run_id=str(run_id))
        error = f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        heartbeat.cancel()
    status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
    async with unit_of_work(db, events) as session:
        run = await session.get(SyncRun, run_id)
        assert run is not None
        if engine is not None:
            engine.tally.write(run)
            if status is RunStatus.SUCCEEDED and engine.tally.failed:
                status = RunStatus.PARTIAL
        run.status, run.error, run.finished_at = status, error, utcnow()
        await release(session=session, name=lease_name(run.connection_id), holder=str(run_id))
    if metrics is not None:
        metrics.observe_run(engine.tally if engine else None, status, time.perf_counter() - started)
    return status


async def _hold_lease(
    db: Database, events: EventBus, connection_id: uuid.UUID, run_id: uuid.UUID
) -> None:
    """Renew the run's lease while it waits on the CRM (a rate limit, a slow page)."""
    name, holder = lease_name(connection_id), str(run_id)
    while True:
        await asyncio.sleep(LEASE_TTL.total_seconds() / 3)
        try:
            async with unit_of_work(db, events) as session:
                await try_acquire(session=session, name=name, holder=holder, ttl=LEASE_TTL)
        except Exception:
            log.exception("crm_sync_lease_renewal_failed", run_id=holder)


def start_in_background(
    *, db: Database, events: EventBus, run_id: uuid.UUID, metrics: SyncMetrics | None
) -> None:
    task = asyncio.create_task(execute(db=db, events=events, run_id=run_id, metrics=metrics))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def get_run(*, session: AsyncSession, run_id: uuid.UUID) -> SyncRun:
    run = await session.get(SyncRun, run_id)
    if run is None:
        raise RunNotFound()
    return run


async def list_runs(
    *,
    session: AsyncSession,
    connection_id: uuid.UUID | None,
    status: RunStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[SyncRun], int]:
    where = []
    if connection_id is not None:
        where.append(SyncRun.connection_id == connection_id)
    if status is not None:
        where.append(SyncRun.status == status)
    query = select(SyncRun).where(*where).order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
    return await fetch_page(session, query, limit=limit, offset=offset)


@dataclass
class ConnectionSyncStatus:
    connection: CrmConnection
    last_run: SyncRun | None
    next_run_at: datetime | None
    success_rate: float | None
    open_conflicts: int
    checkpoints: list[SyncCheckpoint] = field(default_factory=list)


def next_run_at(connection: CrmConnection, last: SyncRun | None) -> datetime | None:
    if connection.status is not ConnectionStatus.ACTIVE:
        return None
    if last is None:
        # Due since it was connected: a fresh `utcnow()` here would always be later than the
        # caller's "now", and a never-synced connection would never be due.
        return connection.created_at
    return last.started_at + timedelta(minutes=connection.interval_minutes)


async def sync_status(
    *, session: AsyncSession, limit: int, offset: int
) -> tuple[list[ConnectionSyncStatus], int]:
    """A page of connections with their sync state, in four statements whatever its size."""
    query = select(CrmConnection).order_by(CrmConnection.name)
    connections, total = await fetch_page(session, query, limit=limit, offset=offset)
    ids = [connection.id for connection in connections]
    recent = await _recent_runs(session, ids)
    open_conflicts = await session.execute(
        select(SyncConflict.connection_id, func.count())
        .where(SyncConflict.connection_id.in_(ids), SyncConflict.status == ConflictStatus.OPEN)
        .group_by(SyncConflict.connection_id)
    )
    conflicts = {connection_id: int(count) for connection_id, count in open_conflicts}
    checkpoints: dict[uuid.UUID, list[SyncCheckpoint]] = {}
    for checkpoint in await session.scalars(
        select(SyncCheckpoint)
        .where(SyncCheckpoint.connection_id.in_(ids))
        .order_by(SyncCheckpoint.entity)
    ):
        checkpoints.setdefault(checkpoint.connection_id, []).append(checkpoint)
    answer = []
    for connection in connections:
        runs = recent.get(connection.id, [])
        finished = [run for run in runs if run.status is not RunStatus.RUNNING]
        succeeded = sum(run.status is RunStatus.SUCCEEDED for run in finished)
        last = runs[0] if runs else None
        answer.append(
            ConnectionSyncStatus(
                connection=connection,
                last_run=last,
                next_run_at=next_run_at(connection, last),
                success_rate=succeeded / len(finished) if finished else None,
                open_conflicts=conflicts.get(connection.id, 0),
                checkpoints=checkpoints.get(connection.id, []),
            )
        )
    return answer, total


async def _recent_runs(
    session: AsyncSession, connection_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[SyncRun]]:
    """The last SUCCESS_WINDOW runs of each connection, newest first: one windowed query."""
    position = (
        func.row_number()
        .over(
            partition_by=SyncRun.connection_id,
            order_by=(SyncRun.started_at.desc(), SyncRun.id.desc()),
        )
        .label("position")
    )
    numbered = (
        select(SyncRun.id, position).where(SyncRun.connection_id.in_(connection_ids)).subquery()
    )
    runs = await session.scalars(
        select(SyncRun)
        .join(numbered, numbered.c.id == SyncRun.id)
        .where(numbered.c.position <= SUCCESS_WINDOW)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
    )
    found: dict[uuid.UUID, list[SyncRun]] = {}
    for run in runs:
        found.setdefault(run.connection_id, []).append(run)
    return found


async def due_connections(*, session: AsyncSession) -> list[uuid.UUID]:
    due = []
    now = utcnow()
    for connection in await session.scalars(select(CrmConnection)):
        last = await session.scalar(
            select(SyncRun)
            .where(SyncRun.connection_id == connection.id)
            .order_by(SyncRun.started_at.desc())
            .limit(1)
        )
        when = next_run_at(connection, last)
        if when is not None and when <= now:
            due.append(connection.id)
    return due
