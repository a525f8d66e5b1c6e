"""A row that changes owner (a borrower moved to another officer) changes scope with its
descendants: the old owner's nodes are sent tombstones for all of them, children first, and the
new owner's nodes the rows as they stand, parents first. Without this the old laptop would keep
a portfolio it may no longer see, and the new one would get only the rows that changed.

`capture` calls `entries` while it logs a flush; the entries go around the flush's own: the
tombstones before, the rows handed over after.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bazaar.sync import registry
from bazaar.sync.codec import encode
from bazaar.sync.registry import SyncEntity


@dataclass(frozen=True, slots=True)
class Moved:
    """One logged row whose owner changed."""

    spec: SyncEntity
    row: Mapping[str, Any]
    """Every column after the write."""
    old_owner: uuid.UUID
    new_owner: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Handover:
    tombstones: list[dict[str, Any]]
    rows: list[dict[str, Any]]


def moved(
    spec: SyncEntity, op: str, row: Mapping[str, Any], before: Mapping[str, Any]
) -> Moved | None:
    """The move a write makes, when it changes the row's owning officer."""
    column = spec.owner_column
    if op != "update" or column is None or before.get(column) is None:
        return None
    old = uuid.UUID(str(before[column]))
    new = row[column]
    return None if new == old else Moved(spec, row, old, new)


def entries(
    connection: Connection,
    moves: Sequence[Moved],
    *,
    logged: set[tuple[str, Any]],
    stamp: str,
    node_id: str,
    fields_of: Callable[[type[Any]], tuple[str, ...]],
) -> Handover:
    """Change-log rows for the `moves`: tombstones for every moved row and its descendants,
    owned by the old owner; the descendants the flush did not log itself (`logged`), as they
    stand, owned by the new one. `fields_of(model)` names a model's synced fields."""
    tombstones: list[dict[str, Any]] = []
    handed: list[dict[str, Any]] = []
    for move in moves:
        family = [(move.spec, move.row), *_descendants(connection, move.spec, [move.row])]
        for spec, row in reversed(family):
            tombstones.append(
                _entry(spec, row, op="delete", owner=move.old_owner, hlc=stamp, node=node_id)
            )
        for spec, row in family:
            if (spec.entity_type, row["id"]) in logged:
                continue
            data = {name: encode(row[name]) for name in fields_of(spec.model)}
            hlc = row.get("updated_hlc") or stamp
            handed.append(
                _entry(spec, row, op="update", owner=move.new_owner, hlc=hlc, node=node_id)
                | {"data": data}
            )
            logged.add((spec.entity_type, row["id"]))
    return Handover(tombstones, handed)


def _descendants(
    connection: Connection, spec: SyncEntity, rows: Iterable[Mapping[str, Any]]
) -> list[tuple[SyncEntity, Mapping[str, Any]]]:
    """Every registered row below `rows`, parents before children."""
    ids = [row["id"] for row in rows]
    found: list[tuple[SyncEntity, Mapping[str, Any]]] = []
    for child in registry.children_of(spec.entity_type):
        assert child.parent is not None
        table = child.model.__table__
        below = connection.execute(select(table).where(table.c[child.parent[1]].in_(ids)))
        children = [dict(r._mapping) for r in below]
        if children:
            found += [(child, row) for row in children]
            found += _descendants(connection, child, children)
    return found


def _entry(
    spec: SyncEntity, row: Mapping[str, Any], *, op: str, owner: Any, hlc: str, node: str
) -> dict[str, Any]:
    return {
        "entity_type": spec.entity_type,
        "entity_id": row["id"],
        "op": op,
        "version": row["version"],
        "hlc": hlc,
        "origin_node": node,
        "owner_id": owner,
        "fields": {},
        "data": None,
    }
