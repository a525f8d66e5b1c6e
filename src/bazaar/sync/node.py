"""The field node's side: the outbox, and applying rows that come from the hub.

Hub rows are written with plain INSERT/UPDATE statements, not through the ORM unit of work,
so they are not captured as local changes and never re-enter the outbox. A row with a local
record change still waiting for the hub takes the hub's state with that change laid over it;
the change's answer brings the hub's verdict. Rows from a pull apply only when not older (by
the hub's row version) than what the node holds; rows in a push answer are the hub's newest.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.db import ROW_KEY, Base, update_by_key
from bazaar.stamps import utcnow
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


async def _unsent_edits(
    session: AsyncSession, entity_type: str, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Field values of the rows' local record changes the hub has not settled yet, oldest
    first. Only these rows': the rest of the outbox can be thousands of items."""
    edits: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        query = (
            select(SyncItem.entity_id, SyncItem.payload)
            .where(
                SyncItem.entity_type == entity_type,
                SyncItem.entity_id.in_(ids[start : start + 500]),
                SyncItem.command.is_(None),
                SyncItem.status.in_(OPEN),
            )
            .order_by(SyncItem.change_seq)
        )
        for entity_id, payload in await session.execute(query):
            edits[entity_id].append(payload.get("changes") or {})
    return edits


async def _local_versions(
    session: AsyncSession, model: type[Any], ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    versions: dict[uuid.UUID, int] = {}
    for start in range(0, len(ids), 500):
        query = select(model.id, model.version).where(model.id.in_(ids[start : start + 500]))
        versions |= {entity_id: version for entity_id, version in await session.execute(query)}
    return versions


async def apply_hub_rows(
    *,
    session: AsyncSession,
    context: SyncContext,
    rows: Iterable[Mapping[str, Any]],
    newest: bool,
) -> int:
    """Write the hub's rows; `newest` for a push answer. Returns how many were written."""
    # Only the newest state of each row matters.
    latest = {(r["entity_type"], r["entity_id"]): r for r in sorted(rows, key=lambda r: r["seq"])}
    ordered = sorted(latest.values(), key=lambda r: r["seq"])
    for row in ordered:
        context.clock.observe(HLC.decode(row["hlc"]))
    by_type: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row in ordered:
        by_type[row["entity_type"]].append(uuid.UUID(row["entity_id"]))
    versions: dict[str, dict[uuid.UUID, int]] = {}
    unsent: dict[str, dict[uuid.UUID, list[dict[str, Any]]]] = {}
    for entity_type, ids in by_type.items():
        spec = registry.entity(entity_type)
        if spec is not None:
            versions[entity_type] = await _local_versions(session, spec.model, ids)
            unsent[entity_type] = await _unsent_edits(session, entity_type, ids)
    batch = _Batch()
    overlays: list[tuple[type[Any], uuid.UUID, Mapping[str, Any]]] = []
    written: dict[str, set[uuid.UUID]] = defaultdict(set)
    for row in ordered:
        spec = registry.entity(row["entity_type"])
        entity_id = uuid.UUID(row["entity_id"])
        if spec is None:
            continue
        local = versions[spec.entity_type].get(entity_id)
        if local is not None and not newest and row["version"] < local:
            continue
        batch.add(spec, entity_id, row, exists=local is not None)
        # Edits still on their way to the hub stay visible on top of the hub's state, which
        # is what the row becomes once they apply; their answer settles it either way.
        unsent_here = unsent[spec.entity_type].get(entity_id, [])
        overlays += [(spec.model, entity_id, changes) for changes in unsent_here]
        written[spec.entity_type].add(entity_id)
    await batch.execute(session)
    for model, entity_id, changes in overlays:
        await _overlay(session, model, entity_id, changes)
    for entity_type, done in written.items():
        spec = registry.entity(entity_type)
        if spec is not None and spec.after_pull is not None:
            await spec.after_pull(session=session, ids=done)
    return sum(len(done) for done in written.values())


async def _overlay(
    session: AsyncSession, model: type[Any], entity_id: uuid.UUID, changes: Mapping[str, Any]
) -> None:
    values = decode_row(model, dict(changes))
    values.pop("id", None)
    if values:
        await session.execute(
            update(model)
            .where(model.id == entity_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


_COLUMN_KEYS: dict[type[Any], dict[str, str]] = {}


def _column_keys(model: type[Any]) -> dict[str, str]:
    """Attribute name -> column name: a batch writes the table, not the mapped class."""
    if model not in _COLUMN_KEYS:
        _COLUMN_KEYS[model] = {a.key: a.columns[0].key for a in inspect(model).column_attrs}
    return _COLUMN_KEYS[model]


def _column_values(
    model: type[Any], entity_id: uuid.UUID, row: Mapping[str, Any]
) -> dict[str, Any]:
    keys = _column_keys(model)
    values = {keys[name]: value for name, value in decode_row(model, row["data"] or {}).items()}
    return values | {
        keys["id"]: entity_id,
        keys["version"]: row["version"],
        keys["updated_hlc"]: row["hlc"],
        keys["origin_node"]: row["origin_node"],
    }


class _Batch:
    """The hub's rows as one executemany per table, kind of write and column set, rather
    than a statement built for each row. Tables are written parents first (and deleted
    children first), which keeps every foreign key satisfied in any order of rows."""

    def __init__(self) -> None:
        self._inserts: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] = defaultdict(list)
        self._updates: dict[tuple[Table, frozenset[str]], list[dict[str, Any]]] = defaultdict(list)
        self._deletes: dict[Table, list[uuid.UUID]] = defaultdict(list)
        self._derived: dict[Table, tuple[tuple[str, str], ...]] = {}

    def add(
        self,
        spec: registry.SyncEntity,
        entity_id: uuid.UUID,
        row: Mapping[str, Any],
        *,
        exists: bool,
    ) -> None:
        model = spec.model
        table = model.__table__
        self._derived[table] = spec.derived
        if row["op"] == "delete":
            self._deletes[table].append(entity_id)
            return
        values = _column_values(model, entity_id, row)
        if exists:
            values[ROW_KEY] = values.pop(_key(table).key)
            self._updates[(table, frozenset(values))].append(values)
        else:
            self._inserts[(table, frozenset(values))].append(values)

    async def execute(self, session: AsyncSession) -> None:
        order = {table: n for n, table in enumerate(Base.metadata.sorted_tables)}
        for (table, _), params in sorted(self._inserts.items(), key=lambda kv: order[kv[0][0]]):
            await session.execute(insert(table), params)
        for (table, _), params in sorted(self._updates.items(), key=lambda kv: order[kv[0][0]]):
            # No SET clause here: the parameter sets supply it, as executemany wants.
            await session.execute(update_by_key(table), params)
        for table, ids in sorted(self._deletes.items(), key=lambda kv: -order[kv[0]]):
            for name, column in self._derived.get(table, ()):
                below = Base.metadata.tables[name]
                await session.execute(delete(below).where(below.c[column].in_(ids)))
            await session.execute(delete(table).where(_key(table).in_(ids)))


def _key(table: Table) -> Any:
    return table.primary_key.columns[0]


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


async def drop_unseen(*, session: AsyncSession, seen: set[tuple[str, uuid.UUID]]) -> int:
    """After a re-bootstrap: remove the synced rows the hub no longer sent (gone from the
    node's scope, or deleted long ago), children first, keeping any row with a change that is
    not settled yet, and any parent such a row still needs. Returns how many were removed."""
    order = {table: n for n, table in enumerate(Base.metadata.sorted_tables)}
    specs = sorted(registry.entities(), key=lambda spec: -order[spec.model.__table__])
    removed = 0
    for spec in specs:
        table = spec.model.__table__
        key = _key(table)
        local = set((await session.execute(select(key))).scalars())
        unsettled = select(SyncItem.entity_id).where(
            SyncItem.entity_type == spec.entity_type, SyncItem.status != ItemStatus.SYNCED
        )
        keep = set((await session.execute(unsettled)).scalars())
        keep |= await _still_needed(session, spec)
        drop = [i for i in local if (spec.entity_type, i) not in seen and i not in keep]
        for start in range(0, len(drop), 500):
            chunk = drop[start : start + 500]
            for name, column in spec.derived:
                below = Base.metadata.tables[name]
                await session.execute(delete(below).where(below.c[column].in_(chunk)))
            await session.execute(delete(table).where(key.in_(chunk)))
        removed += len(drop)
    return removed


async def _still_needed(session: AsyncSession, spec: registry.SyncEntity) -> set[uuid.UUID]:
    """Rows of `spec` that rows of any table still point to by foreign key."""
    target = spec.model.__table__
    needed: set[uuid.UUID] = set()
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table is target:
                found = await session.execute(select(key.parent).distinct())
                needed |= {value for value in found.scalars() if value is not None}
    return needed
