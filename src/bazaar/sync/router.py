"""Sync over HTTP: the protocol (pull, push), status and control, conflicts, peers, and the
two sync dashboards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from bazaar.auth.dependencies import StaffOnly, require
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import SessionDep
from bazaar.errors import error_responses
from bazaar.pagination import Limit, Page, Paging
from bazaar.routing import Route
from bazaar.stamps import utcnow
from bazaar.sync import pull, service
from bazaar.sync.errors import (
    ConflictNotFound,
    ConflictResolved,
    EntityNotFound,
    InvalidMutation,
    NodeIdTaken,
    NotAFieldNode,
    OutOfScope,
    ResolveAtHub,
    SyncKeyBound,
    UnknownEntity,
)
from bazaar.sync.models import ConflictStatus, ItemStatus
from bazaar.sync.push import PushApplier
from bazaar.sync.records import check_policy_overrides
from bazaar.sync.schemas import (
    ChangesPage,
    ConflictRead,
    CycleRead,
    EntityStatus,
    FailedItems,
    NetworkStatus,
    PeerRead,
    PendingCount,
    PushRequest,
    PushResponse,
    RejectedMutation,
    ResolveRequest,
    Retried,
    SyncItemRead,
    SyncSummary,
)
from bazaar.sync.users import replica_users
from bazaar.sync.worker import SyncWorker, worker_for


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    check_policy_overrides(app.state.runtime.settings.sync_policies)
    await worker_for(app.state.runtime)
    yield


router = APIRouter(prefix="/sync", tags=["sync"], lifespan=lifespan, route_class=Route)
dashboard = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=Route)

SyncCaller = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER, Role.NODE))]
# Sequence numbers are 64-bit signed integers in both databases.
MAX_CURSOR = 2**63 - 1


async def get_worker(request: Request) -> SyncWorker:
    return await worker_for(request.app.state.runtime)


WorkerDep = Annotated[SyncWorker, Depends(get_worker)]


def _node_only(worker: SyncWorker) -> None:
    if not worker.is_node:
        raise NotAFieldNode


@router.get(
    "/changes",
    response_model=ChangesPage,
    summary="Pull: changes after a cursor, in the caller's scope",
    responses=error_responses(NodeIdTaken, SyncKeyBound),
)
async def changes(
    request: Request,
    session: SessionDep,
    principal: SyncCaller,
    worker: WorkerDep,
    node_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
    since: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    full: Annotated[
        bool,
        Query(description="A bootstrap: include the node's own changes too (re-bootstrap)"),
    ] = False,
) -> dict[str, Any]:
    """A field node's pull: the changes after `since` in the caller's scope, without the node's
    own (no echo), with the users they refer to. `reset: true` means the cursor is behind the
    compacted log: pull again from 0 with `full=true`."""
    state = request.app.state
    await pull.record_pull(
        db=state.runtime.db,
        events=state.runtime.events,
        principal=principal,
        node_id=node_id,
        cursor=since,
    )
    page = await pull.changes_since(
        session=session,
        principal=principal,
        node_id=node_id,
        since=since,
        limit=limit,
        full=full,
    )
    return {
        "changes": page.changes,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "users": page.users,
        "user_id": principal.user_id,
        "hub_node_id": worker.context.node_id,
        "hub_time": utcnow(),
        "reset": page.reset,
    }


@router.post(
    "/push",
    response_model=PushResponse,
    summary="Push: a batch of mutations, each applied, duplicate, conflict or rejected on its own",
    responses=error_responses(NodeIdTaken, SyncKeyBound),
)
async def push(
    body: PushRequest,
    session: SessionDep,
    principal: SyncCaller,
    worker: WorkerDep,
    request: Request,
) -> dict[str, Any]:
    """A field node's push: each mutation is applied, a duplicate (by `mutation_id`), a conflict
    (parked in the inbox) or rejected with a reason, on its own; a failing item never blocks the
    others."""
    applier = PushApplier(
        session=session,
        context=worker.context,
        principal=principal,
        node_id=body.node_id,
        policy_overrides=request.app.state.runtime.settings.sync_policies,
    )
    results = await applier.push(body.items)
    rows = [row for result in results for row in result.rows]
    users = await replica_users(session=session, principal=principal, changes=rows)
    return {
        "results": [vars(r) for r in results],
        "users": users,
        "hub_node_id": worker.context.node_id,
    }


@router.get(
    "/status/{entity_type}/{entity_id}",
    response_model=EntityStatus,
    responses=error_responses(UnknownEntity),
)
async def entity_status(
    entity_type: str, entity_id: uuid.UUID, session: SessionDep, principal: StaffOnly
) -> dict[str, Any]:
    """A row outside the caller's portfolio answers as one with nothing to sync."""
    items = await service.entity_items(
        session=session, principal=principal, entity_type=entity_type, entity_id=entity_id
    )
    latest = items[0] if items else None
    return {
        "entity_type": entity_type,
        "entity_id": entity_id,
        "status": latest.status if latest else ItemStatus.SYNCED,
        "attempts": latest.attempts if latest else 0,
        "last_error": latest.last_error if latest else None,
        "items": items,
    }


@router.get("/pending-count", response_model=PendingCount)
async def pending_count(session: SessionDep, principal: StaffOnly) -> dict[str, int]:
    """Outbox items of the caller's rows by status: pending, syncing, failed, conflict."""
    by_status = await service.counts(session=session, principal=principal)
    return {status.value: n for status, n in by_status.items() if status is not ItemStatus.SYNCED}


@router.post(
    "/force/{entity_type}/{entity_id}",
    response_model=EntityStatus,
    responses=error_responses(UnknownEntity, NotAFieldNode),
)
async def force(
    entity_type: str,
    entity_id: uuid.UUID,
    session: SessionDep,
    principal: StaffOnly,
    worker: WorkerDep,
) -> dict[str, Any]:
    """On a field node: send this row's pending items now (a sync cycle), then its status."""
    _node_only(worker)
    # The worker commits in its own transactions; this request's session only reads after.
    await worker.force(principal=principal, entity_type=entity_type, entity_id=entity_id)
    return await entity_status(entity_type, entity_id, session, principal)


@router.post(
    "/batch",
    response_model=CycleRead,
    summary="Run one sync cycle now: pushed, pulled, conflicts, failures, duration",
    responses=error_responses(NotAFieldNode),
)
async def batch(_: StaffOnly, worker: WorkerDep) -> dict[str, Any]:
    """On a field node: push what waits, then pull, once, now; on a hub 409
    `not_a_field_node`. The error of a cycle that could not reach the hub is in `error`."""
    _node_only(worker)
    return (await worker.cycle()).as_dict()


@router.get("/network-status", response_model=NetworkStatus)
async def network_status(principal: StaffOnly, worker: WorkerDep) -> dict[str, Any]:
    """On a node: the link to the hub (quality, median round trip, loss since it was last
    offline, batch size, last cycle); offline as soon as an attempt fails. On a hub: its role
    and the field nodes the caller may see, with their last contact."""
    return await worker.network_status(principal)


@router.get("/failed-items", response_model=FailedItems)
async def failed_items(
    session: SessionDep, principal: StaffOnly, limit: Limit = 50
) -> dict[str, Any]:
    """On a node: outbox items that failed after their attempts; on a hub: the mutations it
    rejected, with their payload. Within the caller's scope."""
    items = await service.failed_items(session=session, principal=principal, limit=limit)
    rejected = await service.rejected_mutations(session=session, principal=principal, limit=limit)
    return {
        "items": [SyncItemRead.model_validate(i) for i in items],
        "rejected": [RejectedMutation.model_validate(m) for m in rejected],
    }


@router.post("/retry-failed", response_model=Retried)
async def retry_failed(session: SessionDep, principal: StaffOnly) -> dict[str, int]:
    """Failed outbox items of the caller's rows go back to pending; answers how many."""
    return {"retried": await service.retry_failed(session=session, principal=principal)}


@router.get("/conflicts")
async def conflicts(
    session: SessionDep,
    principal: StaffOnly,
    page: Paging,
    status: ConflictStatus = ConflictStatus.OPEN,
) -> Page[ConflictRead]:
    """The conflict inbox in the caller's portfolio, newest first, with both sides of each
    field. On a node, the open conflicts on its rows as the hub last sent them."""
    found, total = await service.list_conflicts(
        session=session, principal=principal, status=status, limit=page.limit, offset=page.offset
    )
    return page.of([ConflictRead.model_validate(c) for c in found], total)


@router.post(
    "/conflicts/{conflict_id}/resolve",
    response_model=ConflictRead,
    responses=error_responses(
        ConflictNotFound,
        ConflictResolved,
        EntityNotFound,
        OutOfScope,
        InvalidMutation,
        ResolveAtHub,
    ),
)
async def resolve(
    conflict_id: uuid.UUID,
    body: ResolveRequest,
    session: SessionDep,
    principal: StaffOnly,
    worker: WorkerDep,
) -> Any:
    """Decide a conflict at the hub; the owning officer's node closes it at its next pull."""
    if worker.is_node:
        raise ResolveAtHub
    return await service.resolve_conflict(
        session=session,
        principal=principal,
        conflict_id=conflict_id,
        choice=body.choice,
        values=body.values,
    )


@router.get("/peers")
async def peers(session: SessionDep, principal: StaffOnly, page: Paging) -> Page[PeerRead]:
    """The other ends of this Bazaar's sync: on a hub its field nodes (an officer sees their
    own), on a node its hub, with cursors, last contact and the last error."""
    found, total = await service.peers(
        session=session, principal=principal, limit=page.limit, offset=page.offset
    )
    return page.of([PeerRead.model_validate(p) for p in found], total)


@dashboard.get("/network-status", response_model=NetworkStatus)
async def dashboard_network(principal: StaffOnly, worker: WorkerDep) -> dict[str, Any]:
    """The same as GET /sync/network-status."""
    return await worker.network_status(principal)


@dashboard.get("/sync-summary", response_model=SyncSummary)
async def sync_summary(
    session: SessionDep, principal: StaffOnly, worker: WorkerDep
) -> dict[str, Any]:
    """Sync at a glance for the caller's scope: role, outbox counts, open conflicts, rejected
    mutations, peers and the change log's head."""
    data = await service.summary(session=session, principal=principal)
    outbox = {s.value: n for s, n in data["outbox"].items() if s is not ItemStatus.SYNCED}
    return {**data, "outbox": outbox, "role": "node" if worker.is_node else "hub"}
