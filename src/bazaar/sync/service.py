"""Status and control of sync: outbox state, retries, conflicts, peers, summaries.

Each is scoped like the data it is about. Admins see everything; an officer sees the nodes they
sync (`sync_peers.user_id`), and items, rejected mutations and conflicts on rows of their
portfolio: the newest change-log entry of the row names its owner. A rejected mutation is also
shown to the officer whose node sent it, since the row it meant to create may not exist. What
falls outside is left out as if it did not exist, the way lending answers 404. `principal=None`
is the operator at the shell (`bazaar sync status`), who sees everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from bazaar.auth.models import User
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.pagination import fetch_page
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


def _scoped_to(principal: Principal | None) -> uuid.UUID | None:
    """The user whose portfolio bounds what is shown; None: everything."""
    if principal is None or principal.role is Role.ADMIN:
        return None
    return principal.user_id


def _on_own_rows(
    user_id: uuid.UUID | None,
    entity_type: QueryableAttribute[str],
    entity_id: QueryableAttribute[uuid.UUID],
) -> ColumnElement[bool]:
    """Whether the row (entity_type, entity_id) is in the user's portfolio now."""
    if user_id is None:
        return true()
    owner = (
        select(ChangeLog.owner_id)
        .where(ChangeLog.entity_type == entity_type, ChangeLog.entity_id == entity_id)
        .order_by(ChangeLog.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    return owner == user_id


def _peers_visible(principal: Principal | None) -> ColumnElement[bool]:
    user_id = _scoped_to(principal)
    if user_id is None:
        return true()
    # On a field node, its hub: the node's own link, which only its officer signs in to.
    return (SyncPeer.user_id == user_id) | (SyncPeer.role == PeerRole.HUB)


def _items_visible(principal: Principal | None) -> ColumnElement[bool]:
    return _on_own_rows(_scoped_to(principal), SyncItem.entity_type, SyncItem.entity_id)


def _mutations_visible(principal: Principal | None) -> ColumnElement[bool]:
    user_id = _scoped_to(principal)
    if user_id is None:
        return true()
    own_nodes = select(SyncPeer.node_id).where(SyncPeer.user_id == user_id)
    return or_(
        SyncMutation.node_id.in_(own_nodes),
        _on_own_rows(user_id, SyncMutation.entity_type, SyncMutation.entity_id),
    )


def _conflicts_visible(principal: Principal | None) -> ColumnElement[bool]:
    return _on_own_rows(_scoped_to(principal), Conflict.entity_type, Conflict.entity_id)


async def entity_items(
    *,
    session: AsyncSession,
    principal: Principal | None,
    entity_type: str,
    entity_id: uuid.UUID,
) -> Sequence[SyncItem]:
    spec_of(entity_type)
    query = (
        select(SyncItem)
        .where(
            SyncItem.entity_type == entity_type,
            SyncItem.entity_id == entity_id,
            _items_visible(principal),
        )
        .order_by(SyncItem.change_seq.desc(), SyncItem.id.desc())
    )
    return (await session.execute(query)).scalars().all()


async def counts(*, session: AsyncSession, principal: Principal | None) -> dict[ItemStatus, int]:
    rows = await session.execute(
        select(SyncItem.status, func.count())
        .where(_items_visible(principal))
        .group_by(SyncItem.status)
    )
    found = {ItemStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in ItemStatus}


async def force(
    *,
    session: AsyncSession,
    principal: Principal | None,
    entity_type: str,
    entity_id: uuid.UUID,
) -> int:
    spec_of(entity_type)
    result = await session.execute(
        update(SyncItem)
        .where(
            SyncItem.entity_type == entity_type,
            SyncItem.entity_id == entity_id,
            SyncItem.status.in_((ItemStatus.PENDING, ItemStatus.FAILED)),
            _items_visible(principal),
        )
        .values(status=ItemStatus.PENDING, next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def failed_items(
    *, session: AsyncSession, principal: Principal | None, limit: int
) -> Sequence[SyncItem]:
    query = (
        select(SyncItem)
        .where(SyncItem.status == ItemStatus.FAILED, _items_visible(principal))
        .order_by(SyncItem.change_seq)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def rejected_mutations(
    *, session: AsyncSession, principal: Principal | None, limit: int
) -> Sequence[SyncMutation]:
    query = (
        select(SyncMutation)
        .where(SyncMutation.outcome == Outcome.REJECTED, _mutations_visible(principal))
        .order_by(SyncMutation.created_at.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def retry_failed(*, session: AsyncSession, principal: Principal | None) -> int:
    result = await session.execute(
        update(SyncItem)
        .where(SyncItem.status == ItemStatus.FAILED, _items_visible(principal))
        .values(status=ItemStatus.PENDING, attempts=0, next_attempt_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def list_conflicts(
    *,
    session: AsyncSession,
    principal: Principal | None,
    status: ConflictStatus,
    limit: int,
    offset: int,
) -> tuple[Sequence[Conflict], int]:
    where = [_conflicts_visible(principal), Conflict.status == status]
    total = await session.scalar(select(func.count()).select_from(Conflict).where(*where))
    found = await session.scalars(
        select(Conflict)
        .where(*where)
        .order_by(Conflict.created_at.desc(), Conflict.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return found.all(), total or 0


async def resolve_conflict(
    *,
    session: AsyncSession,
    principal: Principal,
    conflict_id: uuid.UUID,
    choice: str,
    values: dict[str, Any] | None,
) -> Conflict:
    conflict = await session.scalar(
        select(Conflict)
        .where(Conflict.id == conflict_id, _conflicts_visible(principal))
        .with_for_update()
    )
    # Another officer's conflict does not exist for this caller, resolved or not.
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
    query = (
        select(SyncPeer)
        .where(SyncPeer.role == PeerRole.NODE, _peers_visible(principal))
        .order_by(SyncPeer.node_id)
    )
    return (await session.execute(query)).scalars().all()


async def peers(
    *, session: AsyncSession, principal: Principal | None, limit: int, offset: int
) -> tuple[Sequence[SyncPeer], int]:
    query = select(SyncPeer).where(_peers_visible(principal)).order_by(SyncPeer.node_id)
    return await fetch_page(session, query, limit=limit, offset=offset)


async def summary(*, session: AsyncSession, principal: Principal | None) -> dict[str, Any]:
    by_status = await counts(session=session, principal=principal)
    return {
        "outbox": by_status,
        "synced": by_status[ItemStatus.SYNCED],
        "open_conflicts": await session.scalar(
            select(func.count())
            .select_from(Conflict)
            .where(Conflict.status == ConflictStatus.OPEN, _conflicts_visible(principal))
        ),
        "rejected_mutations": await session.scalar(
            select(func.count())
            .select_from(SyncMutation)
            .where(SyncMutation.outcome == Outcome.REJECTED, _mutations_visible(principal))
        ),
        "peers": await session.scalar(
            select(func.count()).select_from(SyncPeer).where(_peers_visible(principal))
        ),
        # A position, not data: every pull's cursor moves past the rows it filters out too.
        "change_log_head": await session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0))),
    }
