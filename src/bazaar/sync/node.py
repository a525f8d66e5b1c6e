"""The field node's side: the outbox, and applying rows that come from the hub.

Hub rows are written with plain INSERT/UPDATE statements, not through the ORM unit of work,
so they are not captured as local changes and never re-enter the outbox. A row with a local
record change still waiting for the hub is left alone: that change's answer brings the hub's
verdict. Rows from a pull apply only when not older (by the hub's row version) than what the
node holds; rows in a push answer are the hub's newest and always apply.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.db import utcnow
from bazaar.sync import registry
from bazaar.sync.backoff import next_attempt_at
from bazaar.sync.capture import SyncContext
from bazaar.sync.codec import decode_row
from bazaar.sync.hlc import HLC
from bazaar.sync.models import ItemStatus, Outcome, SyncItem

OPEN = (ItemStatus.PENDING, ItemStatus.SYNCING)


async def due_items(*, session: AsyncSession, limit: int, now: datetime) -> Sequence[SyncItem]:
    query = (
        select(SyncItem)
        .where(SyncItem.status == ItemStatus.PENDING, SyncItem.next_attempt_at <= now)
        .order_by(SyncItem.priority, SyncItem.change_seq, SyncItem.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def recover_interrupted(*, session: AsyncSession) -> None:
    """Items left `syncing` by a crash are resent: mutation ids make that harmless."""
    await session.execute(
        update(SyncItem)
        .where(SyncItem.status == ItemStatus.SYNCING)
        .values(status=ItemStatus.PENDING)
    )


async def _pending_records(session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> bool:
    query = select(func.count()).where(
        SyncItem.entity_type == entity_type,
        SyncItem.entity_id == entity_id,
        SyncItem.command.is_(None),
        SyncItem.status.in_(OPEN),
    )
    return bool(await session.scalar(query))


async def apply_hub_rows(
    *,
    session: AsyncSession,
    context: SyncContext,
    rows: Iterable[Mapping[str, Any]],
    newest: bool,
) -> int:
    """Write the hub's rows; `newest` for a push answer. Returns how many were written."""
    written: dict[str, set[uuid.UUID]] = defaultdict(set)
    # Only the newest state of each row matters; the hub's sequence orders them.
    latest = {(r["entity_type"], r["entity_id"]): r for r in sorted(rows, key=lambda r: r["seq"])}
    for row in latest.values():
        spec = registry.entity(row["entity_type"])
        if spec is None:
            continue
        model, entity_id = spec.model, uuid.UUID(row["entity_id"])
        context.clock.observe(HLC.decode(row["hlc"]))
        if await _pending_records(session, spec.entity_type, entity_id):
            continue
        local = await session.scalar(select(model.version).where(model.id == entity_id))
        if local is not None and not newest and row["version"] < local:
            continue
        if row["op"] == "delete":
            await session.execute(delete(model).where(model.id == entity_id))
        else:
            values = decode_row(model, row["data"] or {})
            values |= {
                "version": row["version"],
                "updated_hlc": row["hlc"],
                "origin_node": row["origin_node"],
            }
            if local is None:
                await session.execute(insert(model).values(**values))
            else:
                values.pop("id", None)
                await session.execute(
                    update(model)
                    .where(model.id == entity_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        written[spec.entity_type].add(entity_id)
    for entity_type, ids in written.items():
        spec = registry.entity(entity_type)
        if spec is not None and spec.after_pull is not None:
            await spec.after_pull(session=session, ids=ids)
    return sum(len(ids) for ids in written.values())


ITEM_STATUS = {
    Outcome.APPLIED: ItemStatus.SYNCED,
    Outcome.DUPLICATE: ItemStatus.SYNCED,
    Outcome.CONFLICT: ItemStatus.CONFLICT,
    Outcome.REJECTED: ItemStatus.FAILED,
}


async def record_outcome(
    *, session: AsyncSession, item: SyncItem, outcome: Outcome, reason: str | None
) -> None:
    item.status = ITEM_STATUS[outcome]
    item.attempts += 1
    item.last_error = reason if outcome is Outcome.REJECTED or outcome is Outcome.CONFLICT else None
    if item.status is ItemStatus.SYNCED:
        item.synced_at = utcnow()


async def record_failure(
    *,
    session: AsyncSession,
    item: SyncItem,
    error: str,
    max_attempts: int,
    base_seconds: float,
    cap_seconds: float,
) -> None:
    """A transport failure: retry later with backoff, or give up after `max_attempts`."""
    item.attempts += 1
    item.last_error = error[:1000]
    if item.attempts >= max_attempts:
        item.status = ItemStatus.FAILED
        return
    item.status = ItemStatus.PENDING
    item.next_attempt_at = next_attempt_at(
        utcnow(), item.attempts, base_seconds=base_seconds, cap_seconds=cap_seconds
    )
