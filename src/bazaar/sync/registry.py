"""Which tables replicate, who owns their rows, how their fields merge, what is a command.

A domain's syncable model is described once by a `SyncEntity`; change capture, the push and
pull protocol and the node's apply step all read the description, so no route or service of
the domain carries sync code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.sync.policies import Policy

# Bookkeeping columns every syncable row has; they travel beside the data, not in it.
META_FIELDS = frozenset({"version", "updated_hlc", "origin_node", "updated_at"})


@dataclass(frozen=True, slots=True)
class LocalChange:
    """One captured write, as the node's outbox sees it."""

    op: str  # "insert" | "update" | "delete"
    changed: frozenset[str]
    before: Mapping[str, Any]
    after: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Mutation:
    """One item of a push, decoded."""

    mutation_id: str
    entity_type: str
    entity_id: str
    op: str
    command: str | None
    hlc: str
    changes: dict[str, Any]
    base: dict[str, Any]


@dataclass
class PushContext:
    """What the push being applied knows about its rows, handed to a domain's validators and
    command handlers so they need not read (or lock) those rows again."""

    absent: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    """Rows the push inserts that were not stored when it began, and nothing wrote since."""
    inserted: dict[tuple[str, uuid.UUID], Any] = field(default_factory=dict)
    """Rows as this push inserted them (ORM objects)."""

    def known_absent(self, entity_type: str, entity_id: uuid.UUID) -> bool:
        """True when the row is certainly missing: an insert, or a command that creates its
        row, need not look for it."""
        return (entity_type, entity_id) in self.absent

    def pushed_row(self, entity_type: str, entity_id: uuid.UUID) -> Any | None:
        """The row as this push inserted it, while the session holds it current: a later item
        on it (a loan for a new customer, a new application's submission) need not read it
        again, nor lock it, since no other transaction can see it yet."""
        row = self.inserted.get((entity_type, entity_id))
        if row is None:
            return None
        state = inspect(row)
        # Rolled back with its SAVEPOINT (detached), or expired by a rollback since: read it.
        return row if state.persistent and not state.expired_attributes else None


class Validator(Protocol):
    """Checks a node's insert (`row` None) or field changes with the domain's own rules; may
    adjust `values`; raises an AppError to reject the mutation."""

    async def __call__(
        self,
        *,
        session: AsyncSession,
        principal: Principal,
        push: PushContext,
        values: dict[str, Any],
        row: Any | None,
    ) -> None: ...


class CommandHandler(Protocol):
    """Applies one command; raises an AppError to reject it with its message as the reason."""

    async def __call__(
        self, *, session: AsyncSession, principal: Principal, push: PushContext, mutation: Mutation
    ) -> None: ...


class BatchKey(Protocol):
    """The target (e.g. a loan id) a command groups by; None: it applies on its own."""

    def __call__(self, push: PushContext, mutation: Mutation) -> Hashable | None: ...


class BatchApply(Protocol):
    """One outcome per command taken, in order: None (applied) or the AppError that rejects
    it. It may take only a prefix; the rest apply one by one. Any exception it raises undoes
    the whole group, which then applies one by one."""

    async def __call__(
        self,
        *,
        session: AsyncSession,
        principal: Principal,
        push: PushContext,
        mutations: list[Mutation],
    ) -> list[Exception | None]: ...


class AfterPull(Protocol):
    """Runs on a node after hub rows of one type were applied (rebuilds rows the domain
    derives instead of syncing)."""

    async def __call__(self, *, session: AsyncSession, ids: set[uuid.UUID]) -> None: ...


@dataclass(frozen=True)
class CommandBatch:
    """How several commands of one kind on one target apply together, as the handler would
    apply them one after another, but in one round of reads and writes."""

    key: BatchKey
    apply: BatchApply


@dataclass(frozen=True)
class Command:
    """A command a node's write stands for, replayed on the hub by `handler`."""

    name: str
    handler: CommandHandler
    batch: CommandBatch | None = None


@dataclass(frozen=True)
class SyncEntity:
    entity_type: str
    model: type[Any]
    owner_column: str | None = None
    """Column holding the owning officer's user id."""
    parent: tuple[str, str] | None = None
    """(entity type, foreign-key column) whose owner this row inherits."""
    policies: Mapping[str, Policy] = field(default_factory=dict)
    default_policy: Policy = Policy.LATEST_TIMESTAMP
    node_fields: frozenset[str] | None = None
    """Fields a node may change as a record; None: all. Others change only by command."""
    commands: Callable[[LocalChange], list[str]] | None = None
    """The commands a local write stands for (e.g. a new payment -> "repayment")."""
    priority: int = 1
    """Lower pushes first; money is 0."""
    records: bool = True
    """Whether the row's field changes are pushed as record mutations at all."""
    validate: Validator | None = None
    after_pull: AfterPull | None = None
    derived: tuple[tuple[str, str], ...] = ()
    """(table, foreign-key column) of rows the domain derives from this one instead of
    syncing: a node removes them before it removes the row."""


_ENTITIES: dict[str, SyncEntity] = {}
_BY_MODEL: dict[type[Any], SyncEntity] = {}
_COMMANDS: dict[str, Command] = {}


def register(entity: SyncEntity) -> None:
    _ENTITIES[entity.entity_type] = entity
    _BY_MODEL[entity.model] = entity


def register_command(command: Command) -> None:
    _COMMANDS[command.name] = command


def entity(entity_type: str) -> SyncEntity | None:
    return _ENTITIES.get(entity_type)


def entity_for(obj: object) -> SyncEntity | None:
    return entity_of(type(obj))


def entity_of(model: type[Any]) -> SyncEntity | None:
    return _BY_MODEL.get(model)


def entities() -> list[SyncEntity]:
    return list(_ENTITIES.values())


def children_of(entity_type: str) -> list[SyncEntity]:
    """The entities whose rows inherit their owner from a row of `entity_type`."""
    return [e for e in _ENTITIES.values() if e.parent is not None and e.parent[0] == entity_type]


def command(name: str) -> Command | None:
    return _COMMANDS.get(name)
