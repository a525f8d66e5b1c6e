"""The hub's side of a push: apply a node's mutations.

Each mutation is applied in its own SAVEPOINT: one that fails is rolled back alone and
answered `rejected` with its reason, the others stand. Every final outcome is stored under
the mutation id, so a resent mutation is answered `duplicate` and never applies twice.
Rows written while applying are stamped with the pushing node as origin (never echoed back
to it in pulls) and returned in the answer instead, so the node converges at once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.config import ConfigurationError
from bazaar.db import utcnow
from bazaar.errors import AppError, NotFoundError
from bazaar.sync import registry
from bazaar.sync.capture import SyncContext, remote_origin, snapshot, synced_fields
from bazaar.sync.codec import decode_row
from bazaar.sync.errors import (
    EntityNotFound,
    InvalidMutation,
    NodeIdTaken,
    OutOfScope,
    UnknownEntity,
)
from bazaar.sync.hlc import HLC, ClockDriftError, InvalidTimestamp
from bazaar.sync.models import (
    ChangeLog,
    Conflict,
    Outcome,
    PeerRole,
    SyncMutation,
    SyncPeer,
)
from bazaar.sync.policies import Policy, resolve
from bazaar.sync.registry import Mutation, SyncEntity

_ABSENT_KEY = "bazaar.sync.absent"
_INSERTED_KEY = "bazaar.sync.inserted"


@dataclass
class ItemResult:
    mutation_id: str
    outcome: Outcome
    reason: str | None = None
    code: str | None = None
    conflict_id: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    """The hub's rows as this mutation left them (or as they are, when it did not apply)."""
    retryable: bool = False
    """Rejected for now only (not recorded): the node sends it again after a backoff."""


class _Undone(Exception):
    """An item of a stretch failed: the stretch's SAVEPOINT is rolled back."""


def _reason(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, AppError):
        return exc.message, exc.code
    if isinstance(exc, IntegrityError):
        return "the row breaks a uniqueness or reference rule at the hub", "integrity_error"
    return f"invalid data: {exc}", "invalid_mutation"


def parse(raw: Mapping[str, Any]) -> Mutation:
    try:
        mutation = Mutation(
            mutation_id=str(uuid.UUID(str(raw["mutation_id"]))),
            entity_type=str(raw["entity_type"]),
            entity_id=str(uuid.UUID(str(raw["entity_id"]))),
            op=str(raw["op"]),
            command=raw.get("command"),
            hlc=str(raw["hlc"]),
            changes=dict(raw.get("changes") or {}),
            base=dict(raw.get("base") or {}),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidMutation(details={"error": str(exc)}) from exc
    if mutation.op not in ("insert", "update", "delete"):
        raise InvalidMutation(details={"op": mutation.op})
    return mutation


def row_payload(entry: ChangeLog | Mapping[str, Any]) -> dict[str, Any]:
    get = entry.get if isinstance(entry, Mapping) else lambda key: getattr(entry, key)
    return {
        "seq": get("seq"),
        "entity_type": get("entity_type"),
        "entity_id": str(get("entity_id")),
        "op": get("op"),
        "version": get("version"),
        "hlc": get("hlc"),
        "origin_node": get("origin_node"),
        "data": get("data"),
    }


async def touch_peer(
    *, session: AsyncSession, node_id: str, principal: Principal, cursor: int | None = None
) -> None:
    peer = (
        await session.execute(select(SyncPeer).where(SyncPeer.node_id == node_id))
    ).scalar_one_or_none()
    if peer is None:
        peer = SyncPeer(node_id=node_id, role=PeerRole.NODE, user_id=principal.user_id)
        session.add(peer)
    elif peer.user_id != principal.user_id and principal.role is not Role.ADMIN:
        # Origin stamps decide what a node is not sent back: a node id is its first user's.
        raise NodeIdTaken(details={"node_id": node_id})
    peer.last_seen_at = utcnow()
    if cursor is not None:
        peer.pull_cursor, peer.last_sync_at = cursor, utcnow()
    await session.flush()


async def owner_of(session: AsyncSession, spec: SyncEntity, row: Any) -> uuid.UUID | None:
    if spec.owner_column is not None:
        owner: uuid.UUID | None = getattr(row, spec.owner_column)
        return owner
    if spec.parent is None:
        return None
    parent_type, column = spec.parent
    parent_spec = registry.entity(parent_type)
    parent_id = getattr(row, column)
    if parent_spec is None or parent_id is None:
        return None
    parent = await session.get(parent_spec.model, parent_id)
    return None if parent is None else await owner_of(session, parent_spec, parent)


async def ensure_in_scope(
    session: AsyncSession, principal: Principal, spec: SyncEntity, row: Any
) -> None:
    if principal.role is Role.ADMIN:
        return
    if await owner_of(session, spec, row) != principal.user_id:
        raise OutOfScope(details={"entity_type": spec.entity_type, "entity_id": str(row.id)})


def check_policy_overrides(overrides: Mapping[str, str]) -> None:
    """Refuse to start with a BAZAAR_SYNC_POLICIES entry that names no policy."""
    for key, value in overrides.items():
        if value not in Policy.__members__.values() or "." not in key:
            raise ConfigurationError(
                f"BAZAAR_SYNC_POLICIES: {key}={value!r}; use entity.field = one of "
                + ", ".join(p.value for p in Policy)
            )


def effective_policies(spec: SyncEntity, overrides: Mapping[str, str]) -> dict[str, Policy]:
    policies = dict(spec.policies)
    prefix = f"{spec.entity_type}."
    for key, value in overrides.items():
        if key.startswith(prefix):
            policies[key.removeprefix(prefix)] = Policy(value)
    return policies


async def field_clocks(
    session: AsyncSession, spec: SyncEntity, entity_id: uuid.UUID
) -> dict[str, HLC]:
    """The HLC of the last write of each field, from the change log (newest first)."""
    entries = await session.execute(
        select(ChangeLog.fields)
        .where(ChangeLog.entity_type == spec.entity_type, ChangeLog.entity_id == entity_id)
        .order_by(ChangeLog.seq.desc())
    )
    clocks: dict[str, HLC] = {}
    wanted = set(synced_fields(spec.model))
    for (written,) in entries:
        for name, stamp in written.items():
            clocks.setdefault(name, HLC.decode(stamp))
        if wanted <= clocks.keys():
            break
    return clocks


def known_absent(session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> bool:
    """True when the push being applied found the row missing and nothing wrote it since: an
    insert, or a command that creates its row, need not look for it again."""
    absent = session.info.get(_ABSENT_KEY)
    return absent is not None and (entity_type, entity_id) in absent


def pushed_row(session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> Any | None:
    """The row as this push inserted it, while the session holds it current: a later item on
    it (a loan for a new customer, a new application's submission) need not read it again,
    nor lock it, since no other transaction can see it yet."""
    row = session.info.get(_INSERTED_KEY, {}).get((entity_type, entity_id))
    if row is None:
        return None
    state = inspect(row)
    # Rolled back with its SAVEPOINT (detached), or expired by a rollback since: read it.
    return row if state.persistent and not state.expired_attributes else None


class Hub:
    """Applies pushes for one request; `context` is this process's sync identity."""

    def __init__(
        self,
        *,
        session: AsyncSession,
        context: SyncContext,
        principal: Principal,
        node_id: str,
        policy_overrides: Mapping[str, str],
    ) -> None:
        self.session, self.context, self.principal = session, context, principal
        self.node_id, self.overrides = node_id, policy_overrides
        self._done: dict[str, SyncMutation] = {}
        self._new_outcomes: list[SyncMutation] = []

    async def push(self, items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        await touch_peer(session=self.session, node_id=self.node_id, principal=self.principal)
        self._done = await self._recorded(items)
        self.session.info[_ABSENT_KEY] = await self._absent(items)
        self.session.info[_INSERTED_KEY] = {}
        try:
            results = await self._in_order(items)
        finally:
            del self.session.info[_ABSENT_KEY], self.session.info[_INSERTED_KEY]
        # Stored together at the end: one multi-row INSERT rather than one per item, in the
        # same transaction as the items themselves.
        self.session.add_all(self._new_outcomes)
        await self.session.flush()
        return results

    async def _in_order(self, items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Every item in the order sent, except that a run of batchable commands (a node's
        repayments) applies as one group per target before that run's other items."""
        results: list[ItemResult] = []
        stretch: list[Mapping[str, Any]] = []
        start = 0
        while start < len(items):
            kind = items[start].get("command")
            batch = registry.command_batch(kind) if isinstance(kind, str) else None
            end = start + 1
            while end < len(items) and items[end].get("command") == kind:
                end += 1
            if batch is None or end - start < 2:
                stretch.append(items[start])
                start += 1
                continue
            results += await self._stretch(stretch)
            stretch = []
            results += await self._run(batch, items[start:end])
            start = end
        return results + await self._stretch(stretch)

    async def _stretch(self, run: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Items one after another in one SAVEPOINT rather than one each (a SAVEPOINT costs
        as much as a small insert). The first item that fails undoes the stretch: the items
        before it apply together again, it applies alone, and the rest as a stretch."""
        if len(run) < 2:
            return [await self._one(raw) for raw in run]
        outcomes, done = len(self._new_outcomes), dict(self._done)
        absent = set(self.session.info[_ABSENT_KEY])
        results: list[ItemResult] = []
        try:
            async with self.session.begin_nested():
                for raw in run:
                    results.append(await self._one(raw, alone=False))
        except _Undone:
            del self._new_outcomes[outcomes:]
            self._done = done
            self.session.info[_ABSENT_KEY] = absent
            failed = len(results)
            return [
                *await self._stretch(run[:failed]),
                await self._one(run[failed]),
                *await self._stretch(run[failed + 1 :]),
            ]
        return results

    async def _run(
        self, batch: registry.CommandBatch, run: Sequence[Mapping[str, Any]]
    ) -> list[ItemResult]:
        groups: dict[Hashable, list[tuple[int, Mutation]]] = defaultdict(list)
        for position, raw in enumerate(run):
            mutation = self._groupable(raw)
            if mutation is not None and (key := batch.key(self.session, mutation)) is not None:
                groups[key].append((position, mutation))
        done: dict[int, ItemResult] = {}
        for group in groups.values():
            if len(group) > 1:
                done |= await self._group(batch, group, run)
        return [done.get(position) or await self._one(raw) for position, raw in enumerate(run)]

    def _groupable(self, raw: Mapping[str, Any]) -> Mutation | None:
        """The mutation, when nothing but its command stands between it and a group."""
        try:
            mutation = parse(raw)
            HLC.decode(mutation.hlc)
        except (InvalidMutation, InvalidTimestamp):
            return None
        return None if mutation.mutation_id in self._done else mutation

    async def _group(
        self,
        batch: registry.CommandBatch,
        group: list[tuple[int, Mutation]],
        run: Sequence[Mapping[str, Any]],
    ) -> dict[int, ItemResult]:
        """Apply commands of one target together in one SAVEPOINT; those the batch does not take,
        or all of them if it fails, are left to apply one by one."""
        try:
            stamps = [self.context.clock.receive(HLC.decode(m.hlc)) for _, m in group]
        except ClockDriftError:
            return {}
        try:
            async with self.session.begin_nested():
                with remote_origin(
                    self.session,
                    node_id=self.node_id,
                    hlc=max(stamps).encode(),
                    field_hlc=max(HLC.decode(m.hlc) for _, m in group).encode(),
                ) as written:
                    outcomes = await batch.apply(
                        session=self.session,
                        principal=self.principal,
                        mutations=[m for _, m in group],
                    )
        except (AppError, IntegrityError, StaleDataError, ValueError, TypeError, KeyError):
            return {}
        self.session.info[_ABSENT_KEY].difference_update(
            (row["entity_type"], row["entity_id"]) for row in written
        )
        # Each command answers with its own rows and the target's rows as the group left them.
        own = {str(row["entity_id"]): row for row in written}
        targets = own.keys() - {m.entity_id for _, m in group}
        shared = [row_payload(own[entity_id]) for entity_id in targets]
        done: dict[int, ItemResult] = {}
        for (position, mutation), outcome in zip(group, outcomes, strict=False):
            if outcome is None:
                result = ItemResult(mutation.mutation_id, Outcome.APPLIED)
                result.rows = [*shared, row_payload(own[mutation.entity_id])]
            else:
                result = ItemResult(mutation.mutation_id, Outcome.REJECTED, *_reason(outcome))
                result.rows = await self._current_rows(mutation)
            self._record(run[position], mutation, result)
            done[position] = result
        return done

    async def _recorded(self, items: Sequence[Mapping[str, Any]]) -> dict[str, SyncMutation]:
        """Outcomes already stored for this batch's mutation ids, in one query."""
        ids = set()
        for raw in items:
            try:
                ids.add(uuid.UUID(str(raw.get("mutation_id"))))
            except ValueError:
                continue
        found = await self.session.execute(
            select(SyncMutation).where(SyncMutation.mutation_id.in_(ids))
        )
        return {str(m.mutation_id): m for m in found.scalars()}

    async def _absent(self, items: Sequence[Mapping[str, Any]]) -> set[tuple[str, uuid.UUID]]:
        """The rows this batch inserts that are not stored yet, in one query per entity
        type rather than one lookup per item."""
        inserted: dict[str, set[uuid.UUID]] = defaultdict(set)
        for raw in items:
            if raw.get("op") == "insert":
                try:
                    inserted[str(raw.get("entity_type"))].add(uuid.UUID(str(raw.get("entity_id"))))
                except ValueError:
                    continue  # answered `rejected` by parse()
        absent: set[tuple[str, uuid.UUID]] = set()
        for entity_type, ids in inserted.items():
            if (spec := registry.entity(entity_type)) is None:
                continue
            query = select(spec.model.id).where(spec.model.id.in_(ids))
            stored = set((await self.session.execute(query)).scalars())
            absent |= {(spec.entity_type, entity_id) for entity_id in ids - stored}
        return absent

    async def _one(self, raw: Mapping[str, Any], *, alone: bool = True) -> ItemResult:
        """Apply one item in its own SAVEPOINT; not `alone`, within the caller's, raising
        `_Undone` instead of answering a failure."""
        try:
            mutation = parse(raw)
        except InvalidMutation as exc:
            return ItemResult(str(raw.get("mutation_id")), Outcome.REJECTED, exc.message, exc.code)
        done = self._done.get(mutation.mutation_id)
        if done is not None:
            return ItemResult(
                mutation.mutation_id,
                Outcome.DUPLICATE,
                done.reason,
                rows=await self._current_rows(mutation),
            )
        try:
            stamp = self.context.clock.receive(HLC.decode(mutation.hlc)).encode()
        except (ClockDriftError, InvalidTimestamp) as exc:
            return ItemResult(
                mutation.mutation_id, Outcome.REJECTED, str(exc), "clock_drift", retryable=True
            )
        try:
            if alone:
                async with self.session.begin_nested():
                    result = await self._written(mutation, stamp)
            else:
                result = await self._written(mutation, stamp)
        except (NotFoundError, StaleDataError) as exc:
            if not alone:
                raise _Undone from exc
            # Perhaps only early: the row may arrive, or settle, with a later push.
            reason = exc.message if isinstance(exc, AppError) else "the row changed meanwhile"
            code = exc.code if isinstance(exc, AppError) else "version_conflict"
            return ItemResult(mutation.mutation_id, Outcome.REJECTED, reason, code, retryable=True)
        except (AppError, IntegrityError, ValueError, TypeError, KeyError) as exc:
            if not alone:
                raise _Undone from exc
            result = ItemResult(mutation.mutation_id, Outcome.REJECTED, *_reason(exc))
        if not result.rows:
            result.rows = await self._current_rows(mutation)
        self._record(raw, mutation, result)
        return result

    async def _written(self, mutation: Mutation, stamp: str) -> ItemResult:
        with remote_origin(
            self.session, node_id=self.node_id, hlc=stamp, field_hlc=mutation.hlc
        ) as written:
            result = await self._apply(mutation)
            # Whatever the item left pending is its own, not the next item's in a stretch.
            await self.session.flush()
        result.rows = [row_payload(row) for row in written]
        self.session.info[_ABSENT_KEY].difference_update(
            (row["entity_type"], row["entity_id"]) for row in written
        )
        return result

    def _record(self, raw: Mapping[str, Any], mutation: Mutation, result: ItemResult) -> None:
        """Keep the final outcome under the mutation id, so a resend is a duplicate."""
        stored = SyncMutation(
            mutation_id=uuid.UUID(mutation.mutation_id),
            node_id=self.node_id,
            entity_type=mutation.entity_type,
            entity_id=uuid.UUID(mutation.entity_id),
            outcome=result.outcome,
            reason=result.reason,
            payload=dict(raw),
        )
        self._new_outcomes.append(stored)
        self._done[mutation.mutation_id] = stored

    async def _apply(self, mutation: Mutation) -> ItemResult:
        spec = registry.entity(mutation.entity_type)
        if spec is None:
            raise UnknownEntity(details={"entity_type": mutation.entity_type})
        if mutation.command is not None:
            handler = registry.command(mutation.command)
            if handler is None:
                raise InvalidMutation(f"unknown command {mutation.command!r}")
            await handler(session=self.session, principal=self.principal, mutation=mutation)
            return ItemResult(mutation.mutation_id, Outcome.APPLIED)
        entity_id = uuid.UUID(mutation.entity_id)
        row = (
            None
            if known_absent(self.session, spec.entity_type, entity_id)
            else await self.session.get(spec.model, entity_id, with_for_update=True)
        )
        if mutation.op == "insert" and row is None:
            await self._insert(spec, mutation)
            return ItemResult(mutation.mutation_id, Outcome.APPLIED)
        if row is None:
            raise EntityNotFound(
                details={"entity_type": spec.entity_type, "entity_id": mutation.entity_id}
            )
        await ensure_in_scope(self.session, self.principal, spec, row)
        if mutation.op == "delete":
            # Domains delete by tombstone (`deleted_at`, a field like any other) under their
            # own rules; a hard delete from a node would bypass them.
            raise InvalidMutation("rows are deleted by setting deleted_at")
        return await self._merge(spec, row, mutation)

    async def _insert(self, spec: SyncEntity, mutation: Mutation) -> None:
        allowed = set(synced_fields(spec.model))
        values = decode_row(spec.model, {k: v for k, v in mutation.changes.items() if k in allowed})
        values["id"] = uuid.UUID(mutation.entity_id)
        if spec.validate is not None:
            await spec.validate(
                session=self.session, principal=self.principal, values=values, row=None
            )
        row = spec.model(**values)
        await ensure_in_scope(self.session, self.principal, spec, row)
        self.session.add(row)
        await self.session.flush()
        # Held here too: the session's identity map would let it go once this returns.
        self.session.info[_INSERTED_KEY][(spec.entity_type, row.id)] = row

    async def _merge(self, spec: SyncEntity, row: Any, mutation: Mutation) -> ItemResult:
        fields = synced_fields(spec.model)
        client = {
            k: v
            for k, v in mutation.changes.items()
            if k in fields and (spec.node_fields is None or k in spec.node_fields)
        }
        resolution = resolve(
            policies=effective_policies(spec, self.overrides),
            default=spec.default_policy,
            base={k: v for k, v in mutation.base.items() if k in fields},
            server=snapshot(row, fields),
            client=client,
            server_hlcs=await field_clocks(self.session, spec, row.id),
            client_hlc=HLC.decode(mutation.hlc),
        )
        values = decode_row(spec.model, resolution.apply)
        if values and spec.validate is not None:
            await spec.validate(
                session=self.session, principal=self.principal, values=values, row=row
            )
        for name, value in values.items():
            setattr(row, name, value)
        await self.session.flush()
        if not resolution.conflicts:
            return ItemResult(mutation.mutation_id, Outcome.APPLIED)
        conflict = Conflict(
            mutation_id=uuid.UUID(mutation.mutation_id),
            node_id=self.node_id,
            entity_type=spec.entity_type,
            entity_id=row.id,
            fields={
                name: {"base": c.base, "server": c.server, "client": c.client}
                for name, c in resolution.conflicts.items()
            },
            client_hlc=mutation.hlc,
        )
        self.session.add(conflict)
        await self.session.flush()
        return ItemResult(mutation.mutation_id, Outcome.CONFLICT, conflict_id=str(conflict.id))

    def _may_see(self, owner_id: uuid.UUID | None) -> bool:
        return self.principal.role is Role.ADMIN or owner_id == self.principal.user_id

    async def _current_rows(self, mutation: Mutation) -> list[dict[str, Any]]:
        """The hub's latest entries for the mutation's row and its parents, so a node whose
        change did not apply goes back to the hub's state."""
        rows: list[dict[str, Any]] = []
        target: tuple[str, Any] | None = (mutation.entity_type, mutation.entity_id)
        while target is not None:
            entity_type, entity_id = target
            spec = registry.entity(entity_type)
            latest = (
                await self.session.execute(
                    select(ChangeLog)
                    .where(
                        ChangeLog.entity_type == entity_type,
                        ChangeLog.entity_id == uuid.UUID(str(entity_id)),
                    )
                    .order_by(ChangeLog.seq.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if latest is None or spec is None or not self._may_see(latest.owner_id):
                break
            rows.insert(0, row_payload(latest))
            target = None
            if spec.parent is not None and latest.data is not None:
                parent_type, column = spec.parent
                parent_id = latest.data.get(column)
                target = None if parent_id is None else (parent_type, parent_id)
        return rows
