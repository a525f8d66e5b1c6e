"""Change-log compaction: past the retention horizon only each row's latest change is kept.

Pulls from any cursor still bring the latest state of every row changed since, so nothing a
node needs is lost, with two exceptions that the horizon covers: the field clocks of removed
entries are folded into the row's latest entry (so `latest_timestamp` merges decide as
before), and a row whose latest change is a deletion older than the horizon is dropped
altogether. A node whose cursor lies behind the horizon may have missed such a deletion: its
pull answers `reset`, and the node re-bootstraps its scope (`worker.SyncWorker`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.stamps import utcnow
from bazaar.sync.hlc import HLC
from bazaar.sync.models import ChangeLog, SyncCompaction

_LOG = cast(Table, ChangeLog.__table__)
_SET_FIELDS = (
    update(_LOG)
    .where(_LOG.c.seq == bindparam("entry_seq"))
    .values(fields=bindparam("merged_fields"))
)


@dataclass(frozen=True)
class Compacted:
    horizon: int
    removed: int
    kept: int


async def horizon(*, session: AsyncSession) -> int:
    """The newest sequence number up to which the log was thinned out (0: never)."""
    found = await session.scalar(select(func.max(SyncCompaction.horizon_seq)))
    return int(found or 0)


async def compact(*, session: AsyncSession, before: datetime) -> Compacted:
    """Thin out the entries written before `before`, in the caller's transaction."""
    cutoff = await session.scalar(
        select(func.max(ChangeLog.seq)).where(ChangeLog.created_at < before)
    )
    if cutoff is None or cutoff <= await horizon(session=session):
        return Compacted(await horizon(session=session), 0, await _size(session))
    old = (
        await session.execute(
            select(ChangeLog.seq, ChangeLog.entity_type, ChangeLog.entity_id, ChangeLog.fields)
            .where(ChangeLog.seq <= cutoff)
            .order_by(ChangeLog.seq)
        )
    ).all()
    rows = {(entry.entity_type, entry.entity_id) for entry in old}
    latest = await _latest(session, rows)
    removable: list[int] = []
    folded: dict[int, dict[str, str]] = defaultdict(dict)
    for entry in old:
        newest_seq, newest_op = latest[entry.entity_type, entry.entity_id]
        if entry.seq == newest_seq and newest_op != "delete":
            continue
        removable.append(entry.seq)
        if newest_op != "delete":
            _fold(folded[newest_seq], entry.fields)
    if folded:
        await _merge_fields(session, folded)
    for start in range(0, len(removable), 1000):
        chunk = removable[start : start + 1000]
        await session.execute(delete(_LOG).where(_LOG.c.seq.in_(chunk)))
    session.add(SyncCompaction(horizon_seq=cutoff, removed=len(removable)))
    await session.flush()
    return Compacted(cutoff, len(removable), await _size(session))


async def _latest(session: AsyncSession, rows: set[tuple[str, Any]]) -> dict[Any, tuple[int, str]]:
    """Each row's newest entry (seq, op), over the whole log."""
    newest = (
        select(ChangeLog.entity_type, ChangeLog.entity_id, func.max(ChangeLog.seq).label("seq"))
        .group_by(ChangeLog.entity_type, ChangeLog.entity_id)
        .subquery()
    )
    found = await session.execute(
        select(newest.c.entity_type, newest.c.entity_id, newest.c.seq, ChangeLog.op).join(
            ChangeLog, ChangeLog.seq == newest.c.seq
        )
    )
    return {
        (entity_type, entity_id): (seq, op)
        for entity_type, entity_id, seq, op in found
        if (entity_type, entity_id) in rows
    }


def _fold(into: dict[str, str], fields: dict[str, str]) -> None:
    for name, stamp in fields.items():
        if name not in into or HLC.decode(stamp) > HLC.decode(into[name]):
            into[name] = stamp


async def _merge_fields(session: AsyncSession, folded: dict[int, dict[str, str]]) -> None:
    """Give each kept entry the clocks of the entries removed before it; its own are newer."""
    current = await session.execute(
        select(ChangeLog.seq, ChangeLog.fields).where(ChangeLog.seq.in_(list(folded)))
    )
    params = [
        {"entry_seq": seq, "merged_fields": {**folded[seq], **fields}} for seq, fields in current
    ]
    await session.execute(_SET_FIELDS, params)


async def _size(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ChangeLog)) or 0)


async def compact_older_than(runtime: Runtime, retention: timedelta) -> Compacted:
    async with unit_of_work(runtime.db, runtime.events) as session:
        return await compact(session=session, before=utcnow() - retention)


async def compact_job(runtime: Runtime) -> None:
    retention = timedelta(days=runtime.settings.sync_change_log_retention_days)
    await compact_older_than(runtime, retention)
