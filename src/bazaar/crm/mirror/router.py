"""The sync manager over HTTP, for admins: start a run, read runs, roll one back, work the
review queue, see each connection's sync status. Everything that talks to the CRM does so
outside any transaction, so a slow CRM holds no database lock."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from bazaar.auth.dependencies import AdminOnly
from bazaar.crm.errors import (
    ConflictClosed,
    ConflictNotFound,
    ConnectionNotFound,
    CrmRefused,
    RollbackRefused,
    RunNotFound,
    SyncRunning,
)
from bazaar.crm.mirror import review, rollback, runs
from bazaar.crm.mirror.metrics import SyncMetrics
from bazaar.crm.mirror.models import ConflictStatus, RunStatus, SyncConflict, SyncLink
from bazaar.crm.mirror.schemas import (
    CheckpointRead,
    ConflictRead,
    ConflictResolve,
    ConnectionSyncRead,
    FieldDiff,
    RunRead,
    RunStarted,
)
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Page, Paging
from bazaar.routing import Route
from bazaar.runtime import Runtime

router = APIRouter(prefix="/crm", tags=["crm sync"], route_class=Route)

Entity = Annotated[
    str | None,
    Query(pattern=r"^(users|clients|projects|tasks|comments)$", description="Entity"),
]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.post(
    "/connections/{connection_id}/sync",
    status_code=202,
    responses=error_responses(ConnectionNotFound, SyncRunning),
)
async def start_sync(
    connection_id: uuid.UUID, request: Request, principal: AdminOnly
) -> RunStarted:
    """Start a sync run of the connection now; it runs in the background. 409 with the
    running run's id in `details.run_id` while one runs, from any process."""
    runtime = _runtime(request)
    run_id = await runs.start_run(
        db=runtime.db, events=runtime.events, connection_id=connection_id, trigger="api"
    )
    runs.start_in_background(
        db=runtime.db,
        events=runtime.events,
        run_id=run_id,
        metrics=SyncMetrics.on(request.app.state.metrics.registry),
    )
    return RunStarted(run_id=run_id, status=RunStatus.RUNNING)


@router.get("/runs")
async def list_runs(
    session: SessionDep,
    principal: AdminOnly,
    paging: Paging,
    connection_id: uuid.UUID | None = None,
    status: RunStatus | None = None,
) -> Page[RunRead]:
    """Sync runs, newest first, with their counts and errors."""
    rows, total = await runs.list_runs(
        session=session,
        connection_id=connection_id,
        status=status,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of([RunRead.model_validate(row) for row in rows], total)


@router.get("/runs/{run_id}", responses=error_responses(RunNotFound))
async def get_run(run_id: uuid.UUID, session: SessionDep, principal: AdminOnly) -> RunRead:
    """One run: status, counts pulled/pushed/created/updated/deleted/conflicts/failed, the
    run's error and each failed record with the CRM's message."""
    return RunRead.model_validate(await runs.get_run(session=session, run_id=run_id))


@router.post(
    "/runs/{run_id}/rollback",
    responses=error_responses(RunNotFound, SyncRunning, RollbackRefused, CrmRefused),
)
async def rollback_run(run_id: uuid.UUID, request: Request, principal: AdminOnly) -> RunRead:
    """Undo a run: local rows get their before-images back and the CRM gets compensating
    writes. 409 with `details.changed` listing the records changed on either side since."""
    runtime = _runtime(request)
    run = await rollback.rollback_run(db=runtime.db, events=runtime.events, run_id=run_id)
    return RunRead.model_validate(run)


async def _conflict_read(session: SessionDep, conflict: SyncConflict) -> ConflictRead:
    link = await session.get(SyncLink, conflict.link_id)
    return ConflictRead(
        id=conflict.id,
        connection_id=conflict.connection_id,
        run_id=conflict.run_id,
        entity=conflict.entity,
        local_id=None if link is None else link.local_id,
        external_id=None if link is None else link.external_id,
        status=conflict.status,
        fields=[
            FieldDiff(field=name, **values) for name, values in sorted(conflict.fields.items())
        ],
        resolution=conflict.resolution,
        created_at=conflict.created_at,
        resolved_at=conflict.resolved_at,
    )


@router.get("/conflicts")
async def list_conflicts(
    session: SessionDep,
    principal: AdminOnly,
    paging: Paging,
    connection_id: uuid.UUID | None = None,
    entity: Entity = None,
    status: ConflictStatus | None = None,
) -> Page[ConflictRead]:
    """The review queue: records changed on both sides that the strategy parked."""
    rows, total = await review.list_conflicts(
        session=session,
        connection_id=connection_id,
        entity=entity,
        status=status,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paging.of([await _conflict_read(session, row) for row in rows], total)


@router.get("/conflicts/{conflict_id}", responses=error_responses(ConflictNotFound))
async def get_conflict(
    conflict_id: uuid.UUID, session: SessionDep, principal: AdminOnly
) -> ConflictRead:
    """One conflict, field by field: the base both sides agreed on, the local and the remote
    value."""
    conflict = await review.get_conflict(session=session, conflict_id=conflict_id)
    return await _conflict_read(session, conflict)


@router.post(
    "/conflicts/{conflict_id}/resolve",
    responses=error_responses(ConflictNotFound, ConflictClosed, CrmRefused),
)
async def resolve_conflict(
    conflict_id: uuid.UUID,
    body: ConflictResolve,
    request: Request,
    session: SessionDep,
    principal: AdminOnly,
) -> ConflictRead:
    """Settle a conflict with the local values, the remote ones, or merged values given for
    every field in dispute; they are written to the CRM, then to Bazaar."""
    runtime = _runtime(request)
    conflict = await review.resolve_conflict(
        db=runtime.db,
        events=runtime.events,
        conflict_id=conflict_id,
        choice=body.choice,
        merged=body.values,
        user_id=principal.user_id,
    )
    return await _conflict_read(session, conflict)


@router.get("/sync/status")
async def sync_status(
    session: SessionDep, principal: AdminOnly, page: Paging
) -> Page[ConnectionSyncRead]:
    """Per connection, a page of them by name: the last run, when the next is due, the success
    rate over the last 20 runs, open conflicts and each entity's checkpoint."""
    found, total = await runs.sync_status(session=session, limit=page.limit, offset=page.offset)
    items = [
        ConnectionSyncRead(
            connection_id=item.connection.id,
            name=item.connection.name,
            direction=item.connection.direction.value,
            last_run=None if item.last_run is None else RunRead.model_validate(item.last_run),
            next_run_at=item.next_run_at,
            success_rate=item.success_rate,
            open_conflicts=item.open_conflicts,
            checkpoints=[CheckpointRead.model_validate(c) for c in item.checkpoints],
        )
        for item in found
    ]
    return page.of(items, total)
