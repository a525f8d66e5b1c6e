"""Rolling back a run: local rows get their before-images back, the CRM gets compensating
writes (what the run created is deleted, what it updated is put back, what it deleted is
created again), links and checkpoints return to where they were, as if the run had not
happened. Refused, listing them, when any record it wrote was changed again since."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from bazaar.crm.client import CRMClient, CRMError, CRMValidationError
from bazaar.crm.connections import client_for, get_connection
from bazaar.crm.errors import CrmRefused, RollbackRefused, RunNotFound, SyncRunning
from bazaar.crm.mirror.engine import LEASE_TTL, lease_name
from bazaar.crm.mirror.journal import restore
from bazaar.crm.mirror.models import JournalEntry, RunStatus, SyncCheckpoint, SyncLink, SyncRun
from bazaar.crm.mirror.records import DELETED, KINDS, digest, load
from bazaar.db import Database, unit_of_work
from bazaar.events import EventBus
from bazaar.leader import release, try_acquire
from bazaar.stamps import utcnow


def _body(values: dict[str, Any], local_id: uuid.UUID | None) -> dict[str, Any]:
    body = {k: v for k, v in values.items() if k != DELETED}
    body["bazaar_id"] = None if local_id is None else str(local_id)
    return body


async def _changed_remote(client: CRMClient, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    last: dict[tuple[str, str], JournalEntry] = {}
    for entry in entries:
        if entry.side == "remote" and entry.external_id is not None:
            last[(entry.entity, entry.external_id)] = entry
    changed = []
    for (entity, external_id), entry in last.items():
        try:
            record = await client.get(entity, external_id)
            now = None if record.deleted_at else record.updated_at.isoformat()
        except CRMValidationError as exc:
            if exc.status != 404:
                raise
            now = None
        expected = None if entry.action == "delete" else entry.after
        if now != expected:
            changed.append({"side": "remote", "entity": entity, "external_id": external_id})
    return changed


async def rollback_run(*, db: Database, events: EventBus, run_id: uuid.UUID) -> SyncRun:
    async with unit_of_work(db, events, read_only=True) as session:
        run = await session.get(SyncRun, run_id)
        if run is None:
            raise RunNotFound()
        if run.status is RunStatus.RUNNING:
            raise SyncRunning(details={"run_id": str(run.id)})
        if run.status is RunStatus.ROLLED_BACK:
            raise RollbackRefused("The run is already rolled back", details={"changed": []})
        connection = await get_connection(session=session, connection_id=run.connection_id)
        entries = list(
            await session.scalars(
                select(JournalEntry).where(JournalEntry.run_id == run_id).order_by(JournalEntry.seq)
            )
        )
        session.expunge(connection)
        for entry in entries:
            session.expunge(entry)
    holder, name = f"rollback:{run_id}", lease_name(connection.id)
    async with unit_of_work(db, events) as session:
        if not await try_acquire(session=session, name=name, holder=holder, ttl=LEASE_TTL):
            raise SyncRunning(details={"run_id": None})
    try:
        async with client_for(db, events, connection) as client:
            changed = await _changed_local(db, events, entries)
            changed += await _changed_remote(client, entries)
            if changed:
                raise RollbackRefused(details={"changed": changed})
            recreated = await _compensate(client, entries)
        return await _restore_local(db, events, run_id, connection.id, entries, recreated)
    except CRMError as exc:
        raise CrmRefused(f"the CRM refused a compensating write: {exc.message}") from exc
    finally:
        async with unit_of_work(db, events) as session:
            await release(session=session, name=name, holder=holder)


async def _changed_local(
    db: Database, events: EventBus, entries: list[JournalEntry]
) -> list[dict[str, Any]]:
    last: dict[tuple[str, uuid.UUID], JournalEntry] = {}
    for entry in entries:
        if entry.side == "local" and entry.local_id is not None:
            last[(entry.entity, entry.local_id)] = entry
    changed = []
    async with unit_of_work(db, events, read_only=True) as session:
        for (entity, local_id), entry in last.items():
            row = await load(session, KINDS[entity], local_id)
            if row is None or str(row.version) != entry.after:
                changed.append({"side": "local", "entity": entity, "local_id": str(local_id)})
    return changed


async def _compensate(client: CRMClient, entries: list[JournalEntry]) -> dict[uuid.UUID, str]:
    """The remote writes undone, newest first; returns the new ids of records re-created."""
    recreated: dict[uuid.UUID, str] = {}
    for entry in reversed(entries):
        if entry.side != "remote" or entry.external_id is None:
            continue
        if entry.action == "create":
            await client.delete(entry.entity, entry.external_id)
        elif entry.action == "update" and entry.before is not None:
            await client.update(
                entry.entity, entry.external_id, _body(entry.before, entry.local_id)
            )
        elif entry.action == "delete" and entry.before is not None:
            again = await client.create(entry.entity, _body(entry.before, entry.local_id))
            if entry.local_id is not None:
                recreated[entry.local_id] = again.id
    return recreated


async def _restore_local(
    db: Database,
    events: EventBus,
    run_id: uuid.UUID,
    connection_id: uuid.UUID,
    entries: list[JournalEntry],
    recreated: dict[uuid.UUID, str],
) -> SyncRun:
    async with unit_of_work(db, events) as session:
        for entry in reversed(entries):
            if entry.side != "local" or entry.local_id is None:
                continue
            kind = KINDS[entry.entity]
            row = await load(session, kind, entry.local_id)
            assert row is not None
            if entry.action == "create":
                # A tombstone, not a hard delete, so field nodes that got the row drop it too.
                row.deleted_at = utcnow()
            elif entry.before is not None:
                restore(kind, row, entry.before)
        first: dict[tuple[str, uuid.UUID], JournalEntry] = {}
        for entry in entries:
            if entry.local_id is not None:
                first.setdefault((entry.entity, entry.local_id), entry)
        for (entity, local_id), entry in first.items():
            link = await session.scalar(
                select(SyncLink).where(
                    SyncLink.connection_id == connection_id,
                    SyncLink.entity == entity,
                    SyncLink.local_id == local_id,
                )
            )
            if link is None:
                continue
            if entry.action == "create":
                await session.execute(delete(SyncLink).where(SyncLink.id == link.id))
                continue
            link.base = entry.link_base
            link.base_hash = None if entry.link_base is None else digest(entry.link_base)
            link.external_id = recreated.get(local_id, link.external_id)
        await session.flush()
        for (entity, local_id), _ in first.items():
            row = await load(session, KINDS[entity], local_id)
            link = await session.scalar(
                select(SyncLink).where(
                    SyncLink.connection_id == connection_id,
                    SyncLink.entity == entity,
                    SyncLink.local_id == local_id,
                )
            )
            if row is not None and link is not None:
                link.local_version = row.version
        run = await session.get(SyncRun, run_id)
        assert run is not None
        for entity, cursor in run.cursors.items():
            checkpoint = await session.get(SyncCheckpoint, (connection_id, entity))
            if checkpoint is not None:
                checkpoint.pulled_until = None if cursor is None else datetime.fromisoformat(cursor)
                checkpoint.page = 1
        run.status = RunStatus.ROLLED_BACK
        await session.flush()
        return run
