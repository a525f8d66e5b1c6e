"""The hub's side of a push: apply a node's mutations.

Each mutation applies as if in its own SAVEPOINT: one that fails is rolled back alone and
answered `rejected` with its reason, the others stand. To save SAVEPOINTs, the items between
runs of batchable commands share one per stretch, and a stretch whose item fails applies again
around it; a run of batchable commands (a node's repayments) applies as one group per target.
Every final outcome is stored under the mutation id, so a resent mutation is answered
`duplicate` and never applies twice. Rows written while applying are stamped with the pushing
node as origin (never echoed back to it in pulls) and returned in the answer instead, so the
node converges at once.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.errors import AppError, NotFoundError
from bazaar.events import record_event
from bazaar.sync import registry
from bazaar.sync.capture import SyncContext, remote_origin
from bazaar.sync.errors import EntityNotFound, InvalidMutation, UnknownEntity
from bazaar.sync.events import NodePushed
from bazaar.sync.hlc import HLC, ClockDriftError, InvalidTimestamp
from bazaar.sync.items import ItemResult, parse, reason_of, row_payload
from bazaar.sync.models import ChangeLog, Outcome, SyncMutation
from bazaar.sync.ownership import ensure_in_scope
from bazaar.sync.peers import touch_peer
from bazaar.sync.records import Applying, insert_record, merge_record
from bazaar.sync.registry import Mutation, PushContext


class _Undone(Exception):
    """An item of a stretch failed: the stretch's SAVEPOINT is rolled back."""


class PushApplier:
    """Applies one request's push; `context` is this process's sync identity."""

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
        self.node_id = node_id
        self.push_context = PushContext()
        self.applying = Applying(session, principal, node_id, policy_overrides, self.push_context)
        self._done: dict[str, SyncMutation] = {}
        self._new_outcomes: list[SyncMutation] = []

    async def push(self, items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        await touch_peer(session=self.session, node_id=self.node_id, principal=self.principal)
        self._done = await self._recorded(items)
        self.push_context.absent = await self._absent(items)
        results = await self._in_order(items)
        # Stored together at the end: one multi-row INSERT rather than one per item, in the
        # same transaction as the items themselves.
        self.session.add_all(self._new_outcomes)
        await self.session.flush()
        if results:
            self._announce(results)
        return results

    def _announce(self, results: Sequence[ItemResult]) -> None:
        outcomes = Counter(result.outcome for result in results)
        record_event(
            self.session,
            NodePushed(
                node_id=self.node_id,
                officer_id=str(self.principal.user_id)
                if self.principal.role is Role.OFFICER
                else None,
                applied=outcomes[Outcome.APPLIED],
                duplicates=outcomes[Outcome.DUPLICATE],
                conflicts=outcomes[Outcome.CONFLICT],
                rejected=outcomes[Outcome.REJECTED],
            ),
        )

    async def _in_order(self, items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Every item in the order sent, except that a run of batchable commands (a node's
        repayments) applies as one group per target before that run's other items."""
        results: list[ItemResult] = []
        stretch: list[Mapping[str, Any]] = []
        start = 0
        while start < len(items):
            kind = items[start].get("command")
            command = registry.command(kind) if isinstance(kind, str) else None
            batch = command.batch if command is not None else None
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
        absent = set(self.push_context.absent)
        results: list[ItemResult] = []
        try:
            async with self.session.begin_nested():
                for raw in run:
                    results.append(await self._one(raw, alone=False))
        except _Undone:
            del self._new_outcomes[outcomes:]
            self._done = done
            self.push_context.absent = absent
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
            if mutation is not None and (key := batch.key(self.push_context, mutation)) is not None:
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
                        push=self.push_context,
                        mutations=[m for _, m in group],
                    )
        except (AppError, IntegrityError, StaleDataError, ValueError, TypeError, KeyError):
            return {}
        self.push_context.absent.difference_update(
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
                result = ItemResult(mutation.mutation_id, Outcome.REJECTED, *reason_of(outcome))
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
            result = ItemResult(mutation.mutation_id, Outcome.REJECTED, *reason_of(exc))
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
        self.push_context.absent.difference_update(
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
            command = registry.command(mutation.command)
            if command is None:
                raise InvalidMutation(f"unknown command {mutation.command!r}")
            await command.handler(
                session=self.session,
                principal=self.principal,
                push=self.push_context,
                mutation=mutation,
            )
            return ItemResult(mutation.mutation_id, Outcome.APPLIED)
        entity_id = uuid.UUID(mutation.entity_id)
        row = (
            None
            if self.push_context.known_absent(spec.entity_type, entity_id)
            else await self.session.get(spec.model, entity_id, with_for_update=True)
        )
        if mutation.op == "insert" and row is None:
            await insert_record(self.applying, spec, mutation)
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
        return await merge_record(self.applying, spec, row, mutation)

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
