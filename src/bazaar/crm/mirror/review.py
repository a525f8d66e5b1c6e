"""The review queue: records changed on both sides that the strategy parked, each with the
base, local and remote value of every field in dispute. Resolving writes the chosen values
to the CRM first, then to the local row, so a CRM that refuses them changes nothing here."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.crm.client import CRMError
from bazaar.crm.connections import client_for, get_connection
from bazaar.crm.errors import ConflictClosed, ConflictNotFound, CrmRefused
from bazaar.crm.mirror.models import ConflictStatus, SyncConflict, SyncLink
from bazaar.crm.mirror.records import DELETED, KINDS, Refs, columns, digest, load, local_values
from bazaar.db import Database, unit_of_work
from bazaar.errors import InvalidInputError
from bazaar.events import EventBus
from bazaar.pagination import fetch_page
from bazaar.stamps import utcnow


async def get_conflict(*, session: AsyncSession, conflict_id: uuid.UUID) -> SyncConflict:
    conflict = await session.get(SyncConflict, conflict_id)
    if conflict is None:
        raise ConflictNotFound()
    return conflict


async def list_conflicts(
    *,
    session: AsyncSession,
    connection_id: uuid.UUID | None,
    entity: str | None,
    status: ConflictStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[SyncConflict], int]:
    where = []
    if connection_id is not None:
        where.append(SyncConflict.connection_id == connection_id)
    if entity is not None:
        where.append(SyncConflict.entity == entity)
    if status is not None:
        where.append(SyncConflict.status == status)
    query = (
        select(SyncConflict).where(*where).order_by(SyncConflict.created_at.desc(), SyncConflict.id)
    )
    return await fetch_page(session, query, limit=limit, offset=offset)


def chosen(conflict: SyncConflict, choice: str, merged: dict[str, Any] | None) -> dict[str, Any]:
    if choice in ("local", "remote"):
        return {name: values[choice] for name, values in conflict.fields.items()}
    merged = merged or {}
    if set(merged) != set(conflict.fields):
        raise InvalidInputError(
            "merged values must give exactly the fields in conflict",
            details={"fields": sorted(conflict.fields)},
        )
    return merged


async def resolve_conflict(
    *,
    db: Database,
    events: EventBus,
    conflict_id: uuid.UUID,
    choice: str,
    merged: dict[str, Any] | None,
    user_id: uuid.UUID,
) -> SyncConflict:
    async with unit_of_work(db, events, read_only=True) as session:
        conflict = await get_conflict(session=session, conflict_id=conflict_id)
        if conflict.status is not ConflictStatus.OPEN:
            raise ConflictClosed()
        final = chosen(conflict, choice, merged)
        link = await session.get(SyncLink, conflict.link_id)
        assert link is not None
        assert link.local_id is not None
        assert link.external_id is not None
        kind = KINDS[conflict.entity]
        row = await load(session, kind, link.local_id)
        assert row is not None
        refs = Refs(session, conflict.connection_id)
        values = {**await local_values(kind, row, refs, link.base or {}), **final}
        await columns(kind, values, refs, row)  # refuse what the row could not hold, first
        connection = await get_connection(session=session, connection_id=conflict.connection_id)
        session.expunge(connection)
        external_id = link.external_id
    body = {k: v for k, v in values.items() if k != DELETED} | {"bazaar_id": str(link.local_id)}
    try:
        async with client_for(db, events, connection) as client:
            if values[DELETED]:
                await client.delete(kind.entity, external_id)
            else:
                await client.update(kind.entity, external_id, body)
    except CRMError as exc:
        raise CrmRefused(f"the CRM refused the resolved values: {exc.message}") from exc
    async with unit_of_work(db, events) as session:
        conflict = await get_conflict(session=session, conflict_id=conflict_id)
        link = await session.get(SyncLink, conflict.link_id)
        assert link is not None
        assert link.local_id is not None
        row = await load(session, kind, link.local_id)
        assert row is not None
        refs = Refs(session, conflict.connection_id)
        for name, value in (await columns(kind, values, refs, row)).items():
            setattr(row, name, value)
        if values[DELETED] != (row.deleted_at is not None):
            row.deleted_at = utcnow() if values[DELETED] else None
        await session.flush()
        agreed = await local_values(kind, row, refs, values)
        link.base, link.base_hash, link.local_version = agreed, digest(agreed), row.version
        conflict.status, conflict.resolved_at, conflict.resolved_by = (
            ConflictStatus.RESOLVED,
            utcnow(),
            user_id,
        )
        conflict.resolution = {"choice": choice, "values": final}
    return conflict
