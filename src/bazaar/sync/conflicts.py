"""The conflict inbox replicates like a domain's rows, to the officer who owns the row in
conflict: the node lists its open conflicts with both values, and when the hub resolves one,
the node's pull brings the resolution and settles the outbox item that was parked on it."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.stamps import utcnow
from bazaar.sync.models import Conflict, ConflictStatus, ItemStatus, SyncItem
from bazaar.sync.policies import Policy
from bazaar.sync.registry import SyncEntity


async def _settle(*, session: AsyncSession, ids: set[uuid.UUID]) -> None:
    resolved = select(Conflict.mutation_id).where(
        Conflict.id.in_(ids), Conflict.status == ConflictStatus.RESOLVED
    )
    await session.execute(
        update(SyncItem)
        .where(SyncItem.id.in_(resolved), SyncItem.status == ItemStatus.CONFLICT)
        .values(status=ItemStatus.SYNCED, synced_at=utcnow(), last_error=None)
    )


ENTITY = SyncEntity(
    "sync_conflict",
    Conflict,
    owner_column="owner_id",
    default_policy=Policy.SERVER_WINS,
    # Only the hub decides a conflict: a node never pushes its copy.
    records=False,
    after_pull=_settle,
)
