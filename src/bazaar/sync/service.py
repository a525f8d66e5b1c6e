"""Status and control of sync: outbox state, retries, conflicts, peers, summaries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import User
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.stamps import utcnow
from bazaar.sync import registry
from bazaar.sync.codec import decode_row
from bazaar.sync.errors import (
    ConflictNotFound,
    ConflictResolved,
    EntityNotFound,
    InvalidMutation,
    UnknownEntity,
)
from bazaar.sync.models import (
    ChangeLog,
    Conflict,
    ConflictStatus,
    ItemStatus,
    Outcome,
    PeerRole,
    SyncItem,
    SyncMutation,
    SyncPeer,
)
from bazaar.sync.ownership import ensure_in_scope
from bazaar.sync.registry import SyncEntity


def spec_of(entity_type: str) -> SyncEntity:
    spec = registry.entity(entity_type)
    if spec is None:
        raise UnknownEntity(details={"entity_type": entity_type})
    return spec


async def entity_items(
    *, session: AsyncSession, entity_type: str, entity_id: uuid.UUID
) -> Sequence[SyncItem]:
    spec_of(entity_type)
    query = (
        select(SyncItem)
        .where(SyncItem.entity_type == entity_type, SyncItem.entity_id == entity_id)
        .order_by(SyncItem.change_seq.desc(), SyncItem.id.desc())
    )
    return (await session.execute(query)).scalars().all()


async def counts(*, session: AsyncSession) -> dict[ItemStatus, int]:
    rows = await session.execute(select(SyncItem.status, func.count()).group_by(SyncItem.status))
    found = {ItemStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in ItemStatus}


async def force(*, session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> int:
    spec_of(entity_type)
    result = await session.execute(
        update(SyncItem)
        .where(
            SyncItem.entity_type == entity_type,
            SyncItem.entity_id == entity_id,
            SyncItem.status.in_((ItemStatus.PENDING, ItemStatus.FAILED)),
        )
        .values(status=ItemStatus.PENDING, next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def failed_items(*, session: AsyncSession, limit: int) -> Sequence[SyncItem]:
    query = (
        select(SyncItem)
        .where(SyncItem.status == ItemStatus.FAILED)
        .order_by(SyncItem.change_seq)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def rejected_mutations(*, session: AsyncSession, limit: int) -> Sequence[SyncMutation]:
    query = (
        select(SyncMutation)
        .where(SyncMutation.outcome == Outcome.REJECTED)
        .order_by(SyncMutation.created_at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def retry_failed(*, session: AsyncSession) -> int:
    result = await session.execute(
        update(SyncItem)
        .where(SyncItem.status == ItemStatus.FAILED)
        .values(status=ItemStatus.PENDING, attempts=0, next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def list_conflicts(
    *, session: AsyncSession, status: ConflictStatus | None, limit: int
) -> Sequence[Conflict]:
    query = select(Conflict).order_by(Conflict.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Conflict.status == status)
    return (await session.execute(query)).scalars().all()


async def resolve_conflict(
    *,
    session: AsyncSession,
    principal: Principal,
    conflict_id: uuid.UUID,
    choice: str,
    values: dict[str, Any] | None,
) -> Conflict:
    conflict = await session.get(Conflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise ConflictNotFound
    if conflict.status is ConflictStatus.RESOLVED:
        raise ConflictResolved
    spec = spec_of(conflict.entity_type)
    row = await session.get(spec.model, conflict.entity_id, with_for_update=True)
    if row is None:
        raise EntityNotFound
    await ensure_in_scope(session, principal, spec, row)
    if choice == "remote":
        chosen = {name: side["client"] for name, side in conflict.fields.items()}
    elif choice == "merged":
        chosen = dict(values or {})
        unknown = set(chosen) - set(conflict.fields)
        if unknown:
            raise InvalidMutation(
                "merged values may only name the conflicting fields",
                details={"fields": sorted(unknown)},
            )
    else:
        chosen = {}
    for name, value in decode_row(spec.model, chosen).items():
        setattr(row, name, value)
    conflict.status, conflict.resolved_by, conflict.resolved_at = (
        ConflictStatus.RESOLVED,
        principal.user_id,
        utcnow(),
    )
    conflict.resolution = {"choice": choice, "values": chosen}
    await session.flush()
    return conflict


async def holds_data(*, session: AsyncSession) -> bool:
    """Whether this database has rows of its own: any logged write, or any account."""
    logged = await session.scalar(select(ChangeLog.seq).limit(1))
    users = await session.scalar(select(func.count()).select_from(User))
    return logged is not None or bool(users)


async def node_contacts(*, session: AsyncSession, principal: Principal) -> Sequence[SyncPeer]:
    """On a hub: the field nodes the caller may see (an officer, their own), by node id."""
    query = select(SyncPeer).where(SyncPeer.role == PeerRole.NODE).order_by(SyncPeer.node_id)
    if principal.role is not Role.ADMIN:
        query = query.where(SyncPeer.user_id == principal.user_id)
    return (await session.execute(query)).scalars().all()


async def peers(*, session: AsyncSession) -> Sequence[SyncPeer]:
    return (await session.execute(select(SyncPeer).order_by(SyncPeer.node_id))).scalars().all()


async def summary(*, session: AsyncSession) -> dict[str, Any]:
    by_status = await counts(session=session)
    return {
        "outbox": by_status,
        "synced": by_status[ItemStatus.SYNCED],
        "open_conflicts": await session.scalar(
            select(func.count()).where(Conflict.status == ConflictStatus.OPEN)
        ),
        "rejected_mutations": await session.scalar(
            select(func.count()).where(SyncMutation.outcome == Outcome.REJECTED)
        ),
        "peers": await session.scalar(select(func.count()).select_from(SyncPeer)),
        "change_log_head": await session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0))),
    }
