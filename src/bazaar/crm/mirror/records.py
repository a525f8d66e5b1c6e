"""Records as both sides compare them: canonical values, the same shape whichever side they
come from, with references spelled as the CRM's ids, dates as ISO strings and deletion as a
`deleted` flag, so a record's hash means the same thing on both sides.

A reference the other side cannot name (an owner the CRM does not know, a client not synced
yet) keeps the value both sides last agreed on: it is not a change of either side.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import User
from bazaar.auth.roles import Role
from bazaar.crm.client.models import ExternalRecord
from bazaar.crm.mirror.models import SyncLink
from bazaar.crm.models import Comment, CrmClient, Project, Task
from bazaar.crm.rules import EntityType, Priority, ProjectStatus, TaskStatus

Values = dict[str, Any]
LocalRow = CrmClient | Project | Task | Comment

DELETED = "deleted"


@dataclass(frozen=True)
class Kind:
    entity: str
    model: type[LocalRow] | None
    """None for users: Bazaar accounts are matched by email, never created or pushed."""
    fields: tuple[str, ...]
    refs: Mapping[str, str]
    """Reference field -> the entity it names ("entity" for a comment's subject)."""
    dates: frozenset[str]
    defaults: Mapping[str, Any]
    """What a missing enum field means, so `null` and the default hash the same."""


def _kind(
    entity: str,
    model: type[LocalRow] | None,
    fields: tuple[str, ...],
    refs: Mapping[str, str] | None = None,
    dates: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
) -> Kind:
    return Kind(entity, model, fields, refs or {}, frozenset(dates), defaults or {})


SUBJECTS = {EntityType.CLIENT.value: "clients", "project": "projects", "task": "tasks"}
"""A comment's `entity_type` -> the entity its `entity_id` names."""

KINDS: dict[str, Kind] = {
    kind.entity: kind
    for kind in (
        _kind("users", None, ("email", "name")),
        _kind(
            "clients", CrmClient, ("name", "contact_person", "email", "phone", "company", "notes")
        ),
        _kind(
            "projects",
            Project,
            (
                *("name", "description", "status", "priority"),
                *("client_id", "owner_id", "start_date", "due_date"),
            ),
            refs={"client_id": "clients", "owner_id": "users"},
            dates=("start_date", "due_date"),
            defaults={"status": ProjectStatus.PLANNED.value, "priority": Priority.MEDIUM.value},
        ),
        _kind(
            "tasks",
            Task,
            (
                *("title", "description", "project_id", "assignee_id"),
                *("status", "priority", "due_date", "parent_id"),
            ),
            refs={"project_id": "projects", "assignee_id": "users", "parent_id": "tasks"},
            dates=("due_date",),
            defaults={"status": TaskStatus.TODO.value, "priority": Priority.MEDIUM.value},
        ),
        _kind(
            "comments",
            Comment,
            ("content", "entity_type", "entity_id", "author_id"),
            refs={"entity_id": "entity", "author_id": "users"},
        ),
    )
}

ENUMS: dict[tuple[str, str], type[Any]] = {
    ("projects", "status"): ProjectStatus,
    ("projects", "priority"): Priority,
    ("tasks", "status"): TaskStatus,
    ("tasks", "priority"): Priority,
    ("comments", "entity_type"): EntityType,
}


class RecordError(ValueError):
    """A record that cannot be applied as it is; it fails alone and is retried next run."""


def digest(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def remote_values(kind: Kind, record: ExternalRecord) -> Values:
    data = record.model_dump()
    values: Values = {}
    for name in kind.fields:
        value = data.get(name)
        if isinstance(value, date):
            value = value.isoformat()
        if value is None:
            value = kind.defaults.get(name)
        values[name] = value
    values[DELETED] = record.deleted_at is not None
    return values


class Refs:
    """Local id <-> external id per entity for one connection, cached for a run."""

    def __init__(self, session: AsyncSession, connection_id: uuid.UUID) -> None:
        self.session, self.connection_id = session, connection_id
        self._ext: dict[tuple[str, uuid.UUID], str | None] = {}
        self._local: dict[tuple[str, str], uuid.UUID | None] = {}

    def learn(self, entity: str, local_id: uuid.UUID | None, external_id: str | None) -> None:
        if local_id is not None:
            self._ext[(entity, local_id)] = external_id
        if external_id is not None:
            self._local[(entity, external_id)] = local_id

    async def prefetch(self, kind: Kind, records: list[Mapping[str, Any]]) -> None:
        """Learn, in one query per entity, the local ids of what a page's records name."""
        wanted: dict[str, set[str]] = {}
        for record in records:
            for name in kind.refs:
                value = record.get(name)
                if value is not None:
                    try:
                        target = _target(kind, name, record)
                    except RecordError:
                        continue  # the record fails when it is applied
                    if (target, str(value)) not in self._local:
                        wanted.setdefault(target, set()).add(str(value))
        for target, ids in wanted.items():
            found = await self.session.execute(
                select(SyncLink.external_id, SyncLink.local_id).where(
                    SyncLink.connection_id == self.connection_id,
                    SyncLink.entity == target,
                    SyncLink.external_id.in_(ids),
                )
            )
            known = {external_id: local_id for external_id, local_id in found}
            for external_id in ids:
                self._local[(target, external_id)] = known.get(external_id)

    async def external(self, entity: str, local_id: uuid.UUID) -> str | None:
        key = (entity, local_id)
        if key not in self._ext:
            found = await self.session.scalar(
                select(SyncLink.external_id).where(
                    SyncLink.connection_id == self.connection_id,
                    SyncLink.entity == entity,
                    SyncLink.local_id == local_id,
                )
            )
            self._ext[key] = found
        return self._ext[key]

    async def local(self, entity: str, external_id: str) -> uuid.UUID | None:
        key = (entity, external_id)
        if key not in self._local:
            found = await self.session.scalar(
                select(SyncLink.local_id).where(
                    SyncLink.connection_id == self.connection_id,
                    SyncLink.entity == entity,
                    SyncLink.external_id == external_id,
                )
            )
            self._local[key] = found
        return self._local[key]


def _target(kind: Kind, field: str, values: Mapping[str, Any]) -> str:
    target = kind.refs[field]
    if target == "entity":
        subject = SUBJECTS.get(str(values.get("entity_type")))
        if subject is None:
            raise RecordError(f"entity_type {values.get('entity_type')!r} is not one Bazaar knows")
        return subject
    return target


async def local_values(kind: Kind, row: LocalRow, refs: Refs, base: Mapping[str, Any]) -> Values:
    values: Values = {}
    for name in kind.fields:
        value = getattr(row, name)
        if name in kind.refs and value is not None:
            value = await refs.external(_target(kind, name, {"entity_type": row_type(row)}), value)
            if value is None:
                value = base.get(name)
        elif isinstance(value, date):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        values[name] = value
    values[DELETED] = row.deleted_at is not None
    return values


async def load(session: AsyncSession, kind: Kind, local_id: uuid.UUID) -> LocalRow | None:
    assert kind.model is not None
    row: LocalRow | None = await session.get(kind.model, local_id)
    return row


def row_type(row: LocalRow) -> str | None:
    return row.entity_type.value if isinstance(row, Comment) else None


async def fallback_owner(session: AsyncSession) -> uuid.UUID:
    """Who owns what the CRM brings without an owner Bazaar knows: the first admin."""
    found = await session.scalar(
        select(User.id)
        .where(User.role == Role.ADMIN, User.is_active.is_(True))
        .order_by(User.created_at, User.id)
        .limit(1)
    )
    if found is None:
        raise RecordError("no active admin to own records the CRM brings")
    return found


async def columns(
    kind: Kind, values: Mapping[str, Any], refs: Refs, row: LocalRow | None
) -> dict[str, Any]:
    """Local column values for canonical `values`; raises RecordError for what cannot be
    stored (an unknown status, a reference to a record not synced yet)."""
    out: dict[str, Any] = {}
    for name in kind.fields:
        value = values.get(name)
        if name in kind.refs:
            target = _target(kind, name, values)
            if value is None:
                out[name] = None
                continue
            local = await refs.local(target, str(value))
            if local is None and target != "users":
                raise RecordError(f"{name} names {target} {value}, which is not synced yet")
            if local is None:
                # A CRM contact without a Bazaar account: keep whom the row names now.
                if row is not None:
                    continue
                out[name] = None
                continue
            out[name] = local
        elif name in kind.dates:
            try:
                out[name] = None if value is None else date.fromisoformat(str(value))
            except ValueError as exc:
                raise RecordError(f"{name} is not a date: {value!r}") from exc
        elif (kind.entity, name) in ENUMS:
            try:
                out[name] = ENUMS[(kind.entity, name)](value)
            except ValueError as exc:
                raise RecordError(f"{name} {value!r} is not one Bazaar knows") from exc
        else:
            out[name] = _text(kind, name, value)
    return out


def _text(kind: Kind, name: str, value: Any) -> Any:
    if value is None:
        return None
    assert kind.model is not None
    if not isinstance(value, str):
        raise RecordError(f"{name} is not a string")
    if "\x00" in value:
        raise RecordError(f"{name} holds a NUL character")
    length = getattr(kind.model.__table__.c[name].type, "length", None)
    if length is not None and len(value) > length:
        raise RecordError(f"{name} is longer than {length} characters")
    return value
