"""Change capture: every flushed write to a registered syncable row is stamped (HLC, origin
node) and appended to `change_log` in the same transaction; on a field node it also enters
the outbox (`sync_items`). Services and routes need no sync code of their own, except for rows
they write with Core statements, which no flush sees: they stamp those with `stamp` and log them
with `log_written`, which writes what the flush hook would have.

The stamp is the node's own clock for local writes. While a peer's mutation is applied
(`remote_origin`), rows written are stamped with that peer as origin, so the change is not
sent back to it, and the entries are collected to be returned in the push answer instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE

from bazaar.config import Settings, get_settings
from bazaar.db import Database
from bazaar.sync import handover
from bazaar.sync.codec import encode
from bazaar.sync.hlc import HybridClock
from bazaar.sync.models import ChangeLog, SyncItem
from bazaar.sync.outbox import outbox_items
from bazaar.sync.registry import (
    META_FIELDS,
    LocalChange,
    SyncEntity,
    entity,
    entity_for,
    entity_of,
)

CONTEXT_KEY = "bazaar.sync.context"
_REMOTE_KEY = "bazaar.sync.remote"
_PENDING_KEY = "bazaar.sync.pending"


@dataclass
class SyncContext:
    node_id: str
    clock: HybridClock
    outbox: bool
    """True on a field node: local writes are queued for the hub."""


@dataclass
class RemoteOrigin:
    """While a peer's mutation is applied: whose writes these are and what they wrote."""

    node_id: str
    hlc: str
    """The hub's receive time, which orders rows."""
    field_hlc: str
    """When the node made the edit, which is what latest_timestamp compares."""
    written: list[dict[str, Any]] = field(default_factory=list)
    """The change-log rows written so far, with their sequence numbers."""


def _remote(session: Session) -> RemoteOrigin | None:
    remote = session.info.get(_REMOTE_KEY)
    return remote if isinstance(remote, RemoteOrigin) else None


def context_for(settings: Settings) -> SyncContext:
    return SyncContext(
        settings.node_id, HybridClock(settings.node_id), outbox=settings.sync_hub_url is not None
    )


def install(db: Database, settings: Settings) -> SyncContext:
    """Give every session of `db` this node's identity and clock."""
    context = context_for(settings)
    db.sessionmaker.configure(info={CONTEXT_KEY: context})
    return context


def installed(db: Database) -> SyncContext | None:
    info = db.sessionmaker.kw.get("info") or {}
    context = info.get(CONTEXT_KEY)
    return context if isinstance(context, SyncContext) else None


@cache
def _fallback_context() -> SyncContext:
    # Sessions made outside an installed Database (one-off scripts) still log their changes.
    return context_for(get_settings())


def context_of(session: Session) -> SyncContext:
    context = session.info.get(CONTEXT_KEY)
    return context if isinstance(context, SyncContext) else _fallback_context()


@contextmanager
def remote_origin(
    session: AsyncSession, *, node_id: str, hlc: str, field_hlc: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Within the block, writes are stamped as `node_id`'s at `hlc` (the hub's receive time,
    which orders rows) while each written field is clocked at `field_hlc` (when the node made
    the edit, which is what latest_timestamp compares); yields the change-log rows written."""
    info = session.sync_session.info
    remote = RemoteOrigin(node_id, hlc, field_hlc or hlc)
    info[_REMOTE_KEY] = remote
    try:
        yield remote.written
    finally:
        info.pop(_REMOTE_KEY, None)


_SYNCED_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def synced_fields(model: type[Any]) -> tuple[str, ...]:
    if model not in _SYNCED_FIELDS:
        attrs = inspect(model).column_attrs
        _SYNCED_FIELDS[model] = tuple(a.key for a in attrs if a.key not in META_FIELDS)
    return _SYNCED_FIELDS[model]


def _values(obj: object, names: Iterable[str]) -> dict[str, Any]:
    loaded = inspect(obj).dict
    # An expired or deferred column is loaded rather than recorded as null.
    return {name: loaded[name] if name in loaded else getattr(obj, name) for name in names}


def snapshot(obj: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: encode(value) for name, value in _values(obj, fields).items()}


@dataclass
class _Captured:
    spec: SyncEntity
    obj: Any
    op: str
    changed: frozenset[str]
    before: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Written:
    """A syncable row written by a Core statement, which no flush hook sees: `row` holds every
    column after the write (stamped with `stamp`), `previous` every column before an update."""

    model: type[Any]
    op: str  # "insert" | "update"
    row: Mapping[str, Any]
    previous: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Change:
    """One write as the change log and the outbox take it, from a flush or from `Written`."""

    spec: SyncEntity
    op: str
    row: Mapping[str, Any]
    """Column values after the write; for a delete, as the row was."""
    changed: frozenset[str]
    before: dict[str, Any]


def _diff(obj: object, fields: tuple[str, ...]) -> tuple[frozenset[str], dict[str, Any]]:
    state = inspect(obj)
    current, committed = state.dict, state.committed_state
    changed = frozenset(
        name for name in fields if name in committed and committed[name] != current.get(name)
    )
    # A value never loaded before it was set has no known base: it is left out, and the hub
    # then treats that field as changed on both sides.
    before = {
        name: encode(committed.get(name, current.get(name)))
        for name in fields
        if committed.get(name) is not NO_VALUE and (name in committed or name in current)
    }
    return changed, before


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    # What a flush the database refused left here was rolled back with it: never log it.
    session.info.pop(_PENDING_KEY, None)
    pending: list[_Captured] = []
    for obj in session.new:
        if (spec := entity_for(obj)) is not None:
            fields = synced_fields(spec.model)
            pending.append(_Captured(spec, obj, "insert", frozenset(fields), {}))
    for obj in session.dirty:
        if (spec := entity_for(obj)) is not None:
            changed, before = _diff(obj, synced_fields(spec.model))
            if changed:
                pending.append(_Captured(spec, obj, "update", changed, before))
    for obj in session.deleted:
        if (spec := entity_for(obj)) is not None:
            fields = synced_fields(spec.model)
            pending.append(_Captured(spec, obj, "delete", frozenset(), snapshot(obj, fields)))
    if not pending:
        return
    for captured in pending:
        if captured.op != "delete":
            for name, value in stamp(session).items():
                setattr(captured.obj, name, value)
    session.info[_PENDING_KEY] = pending


def _owner(change: _Change, connection: Connection, known: dict[Any, Any]) -> Any:
    spec = change.spec
    if spec.owner_column is not None:
        return change.row.get(spec.owner_column)
    if spec.parent is None:
        return None
    parent_type, column = spec.parent
    parent_id = change.row.get(column)
    if parent_id is None:
        return None
    key = (parent_type, parent_id)
    if key not in known:
        known[key] = connection.execute(
            select(ChangeLog.owner_id)
            .where(ChangeLog.entity_type == parent_type, ChangeLog.entity_id == parent_id)
            .order_by(ChangeLog.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
    return known[key]


def _depth(spec: SyncEntity) -> int:
    depth, parent = 0, spec.parent
    while parent is not None and (above := entity(parent[0])) is not None:
        depth, parent = depth + 1, above.parent
    return depth


# Built once: every flush of a syncable row appends with them. One multi-row INSERT per flush
# rather than one statement per row; the returned sequence numbers are matched back by entity
# (a flush writes a row once), since asking for them in row order would split the INSERT.
_APPEND_CHANGES = insert(ChangeLog).returning(
    ChangeLog.seq, ChangeLog.entity_type, ChangeLog.entity_id
)
_ENQUEUE = insert(SyncItem)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    pending: list[_Captured] = session.info.pop(_PENDING_KEY, [])
    changes = [
        _Change(
            c.spec,
            c.op,
            _values(c.obj, inspect(c.spec.model).column_attrs.keys()),
            c.changed,
            c.before,
        )
        for c in pending
    ]
    if changes:
        _append(session, changes)


def stamp(session: Session) -> dict[str, str]:
    """`origin_node` and `updated_hlc` for a row a Core statement writes now: what the flush hook
    sets on the ORM's objects (the peer's stamp while its mutation is applied)."""
    remote = _remote(session)
    if remote is not None:
        return {"origin_node": remote.node_id, "updated_hlc": remote.hlc}
    context = context_of(session)
    return {"origin_node": context.node_id, "updated_hlc": context.clock.now().encode()}


def log_written(session: Session, written: Sequence[Written]) -> None:
    """Log rows written by Core statements, in the session's transaction, as a flush of the
    same writes would have logged them. Call it after the statements, before the commit."""
    changes = []
    for w in written:
        spec = entity_of(w.model)
        if spec is None:
            raise ValueError(f"{w.model.__name__} is not a syncable entity")
        fields = synced_fields(spec.model)
        if w.previous is None:
            changed, before = frozenset(fields), {}
        else:
            previous = w.previous
            changed = frozenset(name for name in fields if previous[name] != w.row[name])
            before = {name: encode(previous[name]) for name in fields}
        changes.append(_Change(spec, w.op, w.row, changed, before))
    _append(session, changes)


def _append(session: Session, changes: Sequence[_Change]) -> None:
    """The change-log rows of `changes` in one INSERT, and on a node their outbox items."""
    # On PostgreSQL the INSERT below takes the lock that orders the change log's writers
    # (a statement trigger, migration 0005): sequence numbers become visible in commit order.
    connection = session.connection()
    context = context_of(session)
    remote = _remote(session)
    # Parents first: a child's owner is read from its parent's entry of this same batch.
    ordered = sorted(changes, key=lambda c: _depth(c.spec))
    owners: dict[Any, Any] = {}
    rows = []
    for change in ordered:
        row = _entry(change, connection, context, remote, owners)
        owners[(change.spec.entity_type, change.row["id"])] = row["owner_id"]
        rows.append(row)
    moves = [m for c in ordered if (m := handover.moved(c.spec, c.op, c.row, c.before))]
    handed = None
    if moves:
        handed = handover.entries(
            connection,
            moves,
            logged={(c.spec.entity_type, c.row["id"]) for c in ordered},
            stamp=remote.hlc if remote else context.clock.now().encode(),
            node_id=context.node_id,
            fields_of=synced_fields,
        )
        connection.execute(_APPEND_CHANGES, handed.tombstones)
    appended = connection.execute(_APPEND_CHANGES, rows)
    if handed is not None and handed.rows:
        connection.execute(_APPEND_CHANGES, handed.rows)
    seq_of = {(entity_type, entity_id): seq for seq, entity_type, entity_id in appended}
    seqs = [seq_of[row["entity_type"], row["entity_id"]] for row in rows]
    if remote is not None:
        remote.written.extend({**row, "seq": seq} for row, seq in zip(rows, seqs, strict=True))
    if context.outbox and remote is None:
        items = [
            item
            for change, row, seq in zip(ordered, rows, seqs, strict=True)
            for item in outbox_items(
                change.spec,
                LocalChange(change.op, change.changed, change.before, row["data"] or {}),
                row,
                seq,
            )
        ]
        if items:
            connection.execute(_ENQUEUE, items)


def _entry(
    change: _Change,
    connection: Connection,
    context: SyncContext,
    remote: RemoteOrigin | None,
    owners: dict[Any, Any],
) -> dict[str, Any]:
    """The change-log row for one write."""
    spec, row = change.spec, change.row
    deleted = change.op == "delete"
    hlc = row["updated_hlc"]
    if deleted:
        # A deleted row is not flushed with a new stamp: the deletion gets its own.
        hlc = remote.hlc if remote else context.clock.now().encode()
    fields = synced_fields(spec.model)
    return {
        "entity_type": spec.entity_type,
        "entity_id": row["id"],
        "op": change.op,
        "version": row["version"],
        "hlc": hlc,
        "origin_node": remote.node_id if remote else context.node_id,
        "owner_id": _owner(change, connection, owners),
        "fields": dict.fromkeys(sorted(change.changed), remote.field_hlc if remote else hlc),
        "data": None if deleted else {name: encode(row[name]) for name in fields},
    }
