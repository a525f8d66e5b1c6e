"""Which tables replicate, who owns their rows, how their fields merge, what is a command.

A domain's syncable model is described once by a `SyncEntity`; change capture, the push and
pull protocol and the node's apply step all read the description, so no route or service of
the domain carries sync code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

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


Validator = Callable[..., Awaitable[None]]
"""`async def validate(*, session, principal, values: dict, row: object | None)`; raises an
AppError to reject the mutation."""

CommandHandler = Callable[..., Awaitable[None]]
"""`async def handler(*, session: AsyncSession, principal: Principal, mutation: Mutation)`;
raises an AppError to reject the command with its message as the reason."""


@dataclass(frozen=True)
class CommandBatch:
    """How several commands of one kind on one target apply together, as the handler would
    apply them one after another, but in one round of reads and writes."""

    key: Callable[..., Hashable | None]
    """`key(session, mutation)`: the target (e.g. a loan id) a command groups by; None: it
    applies on its own."""
    apply: Callable[..., Awaitable[list[Exception | None]]]
    """`async def apply(*, session, principal, mutations)` -> one outcome per command taken,
    in order: None (applied) or the AppError that rejects it. It may take only a prefix; the
    rest apply one by one. Any exception it raises undoes the whole group, which then applies
    one by one."""


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
    """Checks a node's insert (row None) or field changes with the domain's own rules."""
    after_pull: Callable[..., Awaitable[None]] | None = None
    """`async def f(*, session, ids)` on a node after hub rows of this type were applied
    (rebuilds rows the domain derives instead of syncing)."""


_ENTITIES: dict[str, SyncEntity] = {}
_BY_MODEL: dict[type[Any], SyncEntity] = {}
_COMMANDS: dict[str, CommandHandler] = {}
_BATCHES: dict[str, CommandBatch] = {}


def register(entity: SyncEntity) -> None:
    _ENTITIES[entity.entity_type] = entity
    _BY_MODEL[entity.model] = entity


def register_command(
    name: str, handler: CommandHandler, *, batch: CommandBatch | None = None
) -> None:
    _COMMANDS[name] = handler
    if batch is not None:
        _BATCHES[name] = batch


def entity(entity_type: str) -> SyncEntity | None:
    return _ENTITIES.get(entity_type)


def entity_for(obj: object) -> SyncEntity | None:
    return entity_of(type(obj))


def entity_of(model: type[Any]) -> SyncEntity | None:
    return _BY_MODEL.get(model)


def entities() -> list[SyncEntity]:
    return list(_ENTITIES.values())


def command(name: str) -> CommandHandler | None:
    return _COMMANDS.get(name)


def command_batch(name: str) -> CommandBatch | None:
    return _BATCHES.get(name)
