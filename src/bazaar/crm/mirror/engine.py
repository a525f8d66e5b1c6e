"""One sync run of one connection: per entity, in the order references need, pull then push.

Pull asks for records updated since the checkpoint minus the lookback, then walks forward by
the last `updated_at` of each page (ties by page number), so records edited meanwhile are
met later in the same pull, never skipped. Each page is applied in one transaction with its
checkpoint: a page is applied whole or not at all, and an interrupted run resumes after the
last page it applied. Remote writes happen between transactions; until one succeeds the
link's base keeps the CRM's old value, so a run that dies before it still sends it next time.

Push sends local rows edited since the last push (their version is newer than the link's);
a create first records a pending link, and a create whose answer was lost is adopted by the
`bazaar_id` the record carries: the next bidirectional run's pull meets it (it is newer than
the checkpoint) before its push would send it again. A push-only connection has no pull to
meet it with and sends it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.models import User
from bazaar.auth.service import normalize_email
from bazaar.crm.client import CRMClient, CRMValidationError
from bazaar.crm.client.dialect import RESOURCES
from bazaar.crm.client.models import ExternalRecord
from bazaar.crm.mirror.journal import Journal, image
from bazaar.crm.mirror.models import (
    ConflictStatus,
    Direction,
    JournalEntry,
    Pending,
    Strategy,
    SyncCheckpoint,
    SyncConflict,
    SyncLink,
    SyncRun,
)
from bazaar.crm.mirror.reconcile import reconcile
from bazaar.crm.mirror.records import (
    DELETED,
    KINDS,
    SUBJECTS,
    Kind,
    LocalRow,
    RecordError,
    Refs,
    Values,
    columns,
    digest,
    fallback_owner,
    load,
    local_values,
    remote_values,
)
from bazaar.crm.models import Comment, CrmConnection, Project, Task
from bazaar.db import Database, unit_of_work
from bazaar.events import EventBus
from bazaar.leader import try_acquire
from bazaar.stamps import new_id, utcnow

LEASE_TTL = timedelta(seconds=15)
"""A run renews its lease every third of this (and with every page); a dead run's lease
lapses after it, and the next run may start."""

Progress = Callable[[str, int, int], None]
"""(entity, records done, records expected)."""


def lease_name(connection_id: uuid.UUID) -> str:
    return f"crm-sync:{connection_id}"


class LeaseLost(RuntimeError):
    """Another run took over the connection (this one stalled past the lease)."""


def strategy_for(connection: CrmConnection, entity: str) -> Callable[[str], Strategy]:
    overrides = connection.strategies or {}
    default = Strategy(overrides.get(entity, connection.strategy))

    def pick(name: str) -> Strategy:
        return Strategy(overrides.get(f"{entity}.{name}", default))

    return pick


@dataclass
class Tally:
    pulled: int = 0
    pushed: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    by_entity: dict[tuple[str, str], int] = field(default_factory=dict)
    """(entity, "pull" | "push") -> records, for the metrics."""

    def count(self, entity: str, direction: str) -> None:
        key = (entity, direction)
        self.by_entity[key] = self.by_entity.get(key, 0) + 1

    def write(self, run: SyncRun) -> None:
        for name in ("pulled", "pushed", "created", "updated", "deleted", "conflicts", "failed"):
            setattr(run, name, getattr(self, name))
        run.failures = list(self.failures)


@dataclass
class _Push:
    link_id: uuid.UUID
    local_id: uuid.UUID
    version: int
    values: Values
    """The record as it should be in the CRM."""
    before: Values
    """What the CRM held."""


class Engine:
    def __init__(
        self,
        *,
        db: Database,
        events: EventBus,
        connection: CrmConnection,
        client: CRMClient,
        run_id: uuid.UUID,
        progress: Progress | None = None,
    ) -> None:
        self.db, self.events, self.connection, self.client = db, events, connection, client
        self.run_id = run_id
        self.journal = Journal(run_id)
        self.tally = Tally()
        self.progress = progress
        self._ref_cache: Refs | None = None
        self._pending_after: list[tuple[JournalEntry, LocalRow]] = []
        self._fallback_owner: uuid.UUID | None = None
        self._accounts: dict[str, uuid.UUID] = {}
        """Bazaar accounts by normalized email, for the users pulled so far."""
        """Journal entries of the page whose row version is known after the flush."""

    async def run(self) -> None:
        direction = self.connection.direction
        for entity in RESOURCES:
            if entity not in self.connection.entities:
                continue
            if direction is not Direction.PUSH or entity == "users":
                await self.pull(entity)
            if direction is not Direction.PULL and entity != "users":
                await self.push(entity)

    def _refs(self, session: AsyncSession) -> Refs:
        if self._ref_cache is None:
            self._ref_cache = Refs(session, self.connection.id)
        self._ref_cache.session = session
        return self._ref_cache

    async def _renew(self, session: AsyncSession) -> None:
        holder = str(self.run_id)
        name = lease_name(self.connection.id)
        if not await try_acquire(session=session, name=name, holder=holder, ttl=LEASE_TTL):
            raise LeaseLost(f"run {self.run_id} lost the connection's lease")

    async def _checkpoint(self, session: AsyncSession, entity: str) -> SyncCheckpoint:
        found = await session.get(SyncCheckpoint, (self.connection.id, entity))
        if found is None:
            found = SyncCheckpoint(connection_id=self.connection.id, entity=entity, page=1)
            session.add(found)
        return found

    def _fail(self, entity: str, side: str, message: str, **ids: Any) -> None:
        self.tally.failed += 1
        self.tally.failures.append(
            {"entity": entity, "side": side, "message": message[:500]}
            | {k: None if v is None else str(v) for k, v in ids.items()}
        )

    # Pull ---------------------------------------------------------------------------------

    async def pull(self, entity: str) -> None:
        async with unit_of_work(self.db, self.events) as session:
            checkpoint = await self._checkpoint(session, entity)
            since: datetime | None = checkpoint.pulled_until
            page = checkpoint.page
            run = await session.get(SyncRun, self.run_id)
            assert run is not None
            run.cursors = {**run.cursors, entity: None if since is None else since.isoformat()}
            retry = list(
                (
                    await session.scalars(
                        select(SyncLink.external_id).where(
                            SyncLink.connection_id == self.connection.id,
                            SyncLink.entity == entity,
                            SyncLink.pending == Pending.PULL,
                        )
                    )
                ).all()
            )
        if retry:
            records = []
            for external_id in retry:
                if external_id is None:
                    continue
                try:
                    records.append(await self.client.get(entity, external_id))
                except CRMValidationError as exc:
                    self._fail(entity, "pull", exc.message, external_id=external_id)
            await self._send(entity, await self._apply_page(entity, records, [], since, page))
        if since is not None:
            since -= timedelta(seconds=self.connection.lookback_seconds)
            page = 1
        per_page = self.connection.batch_size
        done = 0
        while True:
            found = await self.client.list(
                entity, page=page, per_page=per_page, updated_since=since
            )
            newest = max((r.updated_at for r in found.records), default=None)
            last = len(found.records) + len(found.failed) < per_page
            next_since: datetime | None = since
            next_page = 1 if last else page + 1
            if newest is not None and newest != since:
                # Every record of the page ends at or before `newest`: ask from there.
                next_since, next_page = newest, 1
            pushes = await self._apply_page(
                entity, found.records, found.failed, next_since, next_page
            )
            await self._send(entity, pushes)
            done += len(found.records) + len(found.failed)
            if self.progress is not None:
                self.progress(entity, done, max(found.total, done))
            if last:
                return
            since, page = next_since, next_page

    async def _apply_page(
        self,
        entity: str,
        records: list[ExternalRecord],
        failed: list[tuple[Any, str]],
        next_since: datetime | None,
        next_page: int,
    ) -> list[_Push]:
        kind = KINDS[entity]
        pushes: list[_Push] = []
        async with unit_of_work(self.db, self.events) as session:
            await self._renew(session)
            refs = self._refs(session)
            cid = self.connection.id
            ids = [r.id for r in records]
            links = {
                link.external_id: link
                for link in await session.scalars(
                    select(SyncLink).where(
                        SyncLink.connection_id == cid,
                        SyncLink.entity == entity,
                        SyncLink.external_id.in_(ids),
                    )
                )
            }
            rows: dict[uuid.UUID, LocalRow] = {}
            if kind.model is not None:
                wanted = {link.local_id for link in links.values()}
                wanted |= {_uuid(r.bazaar_id) for r in records if r.id not in links}
                wanted.discard(None)
                model: type[LocalRow] = kind.model
                found: list[LocalRow] = list(
                    await session.scalars(select(model).where(model.id.in_(wanted)))
                )
                rows = {row.id: row for row in found}
            touched: list[tuple[SyncLink, LocalRow]] = []
            await refs.prefetch(kind, [r.model_dump() for r in records])
            if entity == "users":
                await self._learn_accounts(session, records)
            # One flush for the page, not one before every lookup. A record fails (RecordError)
            # before it changes anything, so the rest of the page applies without savepoints.
            with session.no_autoflush:
                for record in records:
                    try:
                        await self._pull_one(
                            session, kind, refs, record, links, rows, touched, pushes
                        )
                    except RecordError as exc:
                        self._fail(entity, "pull", str(exc), external_id=record.id)
                        link = links.get(record.id)
                        await self._park_pull(session, entity, link, record.id, exc)
            for item, message in failed:
                external_id = item.get("id") if isinstance(item, dict) else None
                self._fail(entity, "pull", message, external_id=external_id)
            await session.flush()
            for link, row in touched:
                link.local_version = row.version
            for entry, row in self._pending_after:
                entry.after = str(row.version)
            self._pending_after.clear()
            checkpoint = await self._checkpoint(session, entity)
            checkpoint.pulled_until, checkpoint.page = next_since, next_page
            checkpoint.run_id = self.run_id
            await self._save_tally(session)
        return pushes

    async def _park_pull(
        self,
        session: AsyncSession,
        entity: str,
        link: SyncLink | None,
        external_id: str,
        exc: Exception,
    ) -> None:
        if link is None:
            link = SyncLink(
                connection_id=self.connection.id, entity=entity, external_id=external_id
            )
            session.add(link)
        link.pending, link.error = Pending.PULL, str(exc)[:500]

    async def _pull_one(
        self,
        session: AsyncSession,
        kind: Kind,
        refs: Refs,
        record: ExternalRecord,
        links: dict[str | None, SyncLink],
        rows: dict[uuid.UUID, LocalRow],
        touched: list[tuple[SyncLink, LocalRow]],
        pushes: list[_Push],
    ) -> None:
        entity = kind.entity
        remote = remote_values(kind, record)
        link = links.get(record.id)
        self.tally.pulled += 1
        self.tally.count(entity, "pull")
        if kind.model is None:
            await self._pull_user(session, record, remote, link, refs)
            return
        if link is None and record.bazaar_id is not None:
            link = await self._adoptable(session, entity, record)
        if remote[DELETED] and not self.connection.sync_deleted:
            return
        row = rows.get(link.local_id) if link is not None and link.local_id else None
        if row is None and link is not None and link.local_id is not None:
            row = await load(session, kind, link.local_id)
        if row is None:
            if remote[DELETED]:
                if link is not None:
                    link.pending = link.error = None
                return
            row = await self._create_local(session, kind, refs, remote)
            if link is None:
                link = SyncLink(connection_id=self.connection.id, entity=entity)
                session.add(link)
            link.local_id, link.external_id = row.id, record.id
            self._agree(link, remote, record.updated_at)
            refs.learn(entity, row.id, record.id)
            touched.append((link, row))
            self.tally.created += 1
            return
        assert link is not None
        link.external_id = record.id
        refs.learn(entity, row.id, record.id)
        local = await local_values(kind, row, refs, link.base or {})
        outcome = reconcile(
            base=link.base,
            local=local,
            remote=remote,
            strategy=strategy_for(self.connection, entity),
            local_at=row.updated_at,
            remote_at=record.updated_at,
            skew=self.connection.skew_seconds,
        )
        if outcome.to_local:
            await self._write_local(
                session, kind, refs, row, {**local, **outcome.to_local}, link.base
            )
            touched.append((link, row))
        if outcome.parked:
            await self._park(session, link, entity, outcome.parked)
        to_remote = outcome.to_remote if self.connection.direction is not Direction.PULL else {}
        if not self.connection.sync_deleted:
            to_remote.pop(DELETED, None)
        agreed = {**outcome.agreed, **{name: remote[name] for name in to_remote}}
        self._agree(link, agreed, record.updated_at)
        link.pending = link.error = None
        if to_remote:
            link.pending = Pending.PUSH
            pushes.append(
                _Push(link.id, row.id, row.version, {**remote, **outcome.agreed}, dict(remote))
            )

    def _agree(self, link: SyncLink, values: Values, remote_at: datetime | None) -> None:
        link.base, link.base_hash = dict(values), digest(values)
        if remote_at is not None:
            link.remote_updated_at = remote_at

    async def _adoptable(
        self, session: AsyncSession, entity: str, record: ExternalRecord
    ) -> SyncLink | None:
        """A record carrying one of our ids: a create of ours whose answer was lost."""
        local_id = _uuid(record.bazaar_id)
        if local_id is None:
            return None
        link = await session.scalar(
            select(SyncLink).where(
                SyncLink.connection_id == self.connection.id,
                SyncLink.entity == entity,
                SyncLink.local_id == local_id,
            )
        )
        return link if link is not None and link.external_id is None else None

    async def _learn_accounts(self, session: AsyncSession, records: list[ExternalRecord]) -> None:
        """The Bazaar accounts of a page's CRM users, by email, in one query."""
        emails = set()
        for record in records:
            email = getattr(record, "email", None)
            if isinstance(email, str) and "\x00" not in email:
                emails.add(normalize_email(email))
        found = await session.execute(select(User.email, User.id).where(User.email.in_(emails)))
        self._accounts.update({email: user_id for email, user_id in found})

    async def _pull_user(
        self,
        session: AsyncSession,
        record: ExternalRecord,
        remote: Values,
        link: SyncLink | None,
        refs: Refs,
    ) -> None:
        """Users map to Bazaar accounts by email; the rest stay CRM contacts (a link without
        a local row), never Bazaar accounts."""
        if link is None:
            link = SyncLink(connection_id=self.connection.id, entity="users", external_id=record.id)
            session.add(link)
        email = remote.get("email")
        local_id = None
        if isinstance(email, str) and not remote[DELETED]:
            local_id = self._accounts.get(normalize_email(email))
        if local_id is not None and local_id != link.local_id:
            taken = await session.scalar(
                select(SyncLink.id).where(
                    SyncLink.connection_id == self.connection.id,
                    SyncLink.entity == "users",
                    SyncLink.local_id == local_id,
                )
            )
            if taken is not None:
                local_id = None  # another CRM user already stands for that account
        link.local_id = local_id
        self._agree(link, remote, record.updated_at)
        link.pending = link.error = None
        refs.learn("users", local_id, record.id)

    async def _create_local(
        self, session: AsyncSession, kind: Kind, refs: Refs, remote: Values
    ) -> LocalRow:
        assert kind.model is not None
        values = await columns(kind, remote, refs, None)
        if kind.entity in ("clients", "projects") and values.get("owner_id") is None:
            values["owner_id"] = await self._owner(session)
        if kind.entity == "tasks" and values.get("project_id") is None:
            raise RecordError("a task needs a project")
        if kind.entity == "comments":
            values["owner_id"] = await self._subject_owner(session, remote, values)
            if values.get("author_id") is None:
                values["author_id"] = await self._owner(session)
        row = kind.model(id=new_id(), **values)
        session.add(row)
        entry = self.journal.add(
            session,
            side="local",
            action="create",
            entity=kind.entity,
            local_id=row.id,
            external_id=None,
            before=None,
            after=None,
            link_base=None,
        )
        self._pending_after.append((entry, row))
        return row

    async def _owner(self, session: AsyncSession) -> uuid.UUID:
        if self._fallback_owner is None:
            self._fallback_owner = await fallback_owner(session)
        return self._fallback_owner

    async def _subject_owner(
        self, session: AsyncSession, remote: Values, values: dict[str, Any]
    ) -> uuid.UUID:
        kind = KINDS[SUBJECTS[str(remote["entity_type"])]]
        subject = await load(session, kind, values["entity_id"])
        if subject is None:
            raise RecordError("a comment about a record Bazaar does not hold")
        if isinstance(subject, Task):
            project = await session.get(Project, subject.project_id)
            assert project is not None
            return project.owner_id
        assert not isinstance(subject, Comment)
        owner: uuid.UUID = subject.owner_id
        return owner

    async def _write_local(
        self,
        session: AsyncSession,
        kind: Kind,
        refs: Refs,
        row: LocalRow,
        merged: Values,
        link_base: Values | None,
    ) -> None:
        values = await columns(kind, merged, refs, row)
        before = image(kind, row)
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
        was_deleted = row.deleted_at is not None
        if merged[DELETED] and not was_deleted:
            row.deleted_at = utcnow()
            self.tally.deleted += 1
            action = "delete"
        else:
            if not merged[DELETED] and was_deleted:
                row.deleted_at = None
            self.tally.updated += 1
            action = "update"
        entry = self.journal.add(
            session,
            side="local",
            action=action,
            entity=kind.entity,
            local_id=row.id,
            external_id=None,
            before=before,
            after=None,
            link_base=link_base,
        )
        self._pending_after.append((entry, row))

    async def _park(
        self, session: AsyncSession, link: SyncLink, entity: str, parked: dict[str, Any]
    ) -> None:
        self.tally.conflicts += 1
        open_one = await session.scalar(
            select(SyncConflict).where(
                SyncConflict.link_id == link.id, SyncConflict.status == ConflictStatus.OPEN
            )
        )
        if open_one is None:
            await session.flush()
            session.add(
                SyncConflict(
                    connection_id=self.connection.id,
                    run_id=self.run_id,
                    link_id=link.id,
                    entity=entity,
                    fields=parked,
                )
            )
        else:
            open_one.fields, open_one.run_id = {**open_one.fields, **parked}, self.run_id

    # Remote writes ------------------------------------------------------------------------

    async def _send(self, entity: str, pushes: list[_Push]) -> None:
        for push in pushes:
            await self.write_remote(entity, push.link_id, push.version, push.values, push.before)

    async def write_remote(
        self,
        entity: str,
        link_id: uuid.UUID,
        version: int | None,
        values: Values,
        before: Values | None,
    ) -> bool:
        """Make the CRM hold `values` for the link's record; on success the link agrees on
        them and the journal lists the write. A record the CRM refuses fails alone."""
        async with unit_of_work(self.db, self.events, read_only=True) as session:
            link = await session.get(SyncLink, link_id)
            assert link is not None
            external_id, local_id = link.external_id, link.local_id
        body = {k: v for k, v in values.items() if k != DELETED}
        body["bazaar_id"] = str(local_id)
        action = "update"
        answer: ExternalRecord | None = None
        try:
            if values[DELETED]:
                if external_id is not None and not (before or {}).get(DELETED):
                    await self.client.delete(entity, external_id)
                action = "delete"
            elif external_id is None or (before or {}).get(DELETED):
                async with unit_of_work(self.db, self.events) as session:
                    pending = await session.get(SyncLink, link_id)
                    assert pending is not None
                    pending.pending = Pending.CREATE
                answer = await self.client.create(entity, body)
                action = "create"
            else:
                answer = await self.client.update(entity, external_id, body)
        except CRMValidationError as exc:
            self._fail(entity, "push", exc.message, local_id=local_id, external_id=external_id)
            async with unit_of_work(self.db, self.events) as session:
                failed = await session.get(SyncLink, link_id)
                assert failed is not None
                failed.pending, failed.error = Pending.PUSH, exc.message[:500]
                await self._save_tally(session)
            return False
        async with unit_of_work(self.db, self.events) as session:
            link = await session.get(SyncLink, link_id)
            assert link is not None
            link_base = link.base
            if answer is not None:
                link.external_id = answer.id
                agreed = remote_values(KINDS[entity], answer)
            else:
                agreed = dict(values)
            self._agree(link, agreed, None if answer is None else answer.updated_at)
            if version is not None:
                link.local_version = version
            link.pending = link.error = None
            self.journal.add(
                session,
                side="remote",
                action=action,
                entity=entity,
                local_id=local_id,
                external_id=link.external_id,
                before=None if action == "create" else before,
                after=None if answer is None else answer.updated_at.isoformat(),
                link_base=link_base,
            )
            self.tally.pushed += 1
            self.tally.count(entity, "push")
            await self._save_tally(session)
        if self._ref_cache is not None:
            self._ref_cache.learn(entity, local_id, link.external_id)
        return True

    # Push ---------------------------------------------------------------------------------

    async def push(self, entity: str) -> None:
        kind = KINDS[entity]
        model = kind.model
        assert model is not None
        started = utcnow()
        cid = self.connection.id
        async with unit_of_work(self.db, self.events, read_only=True) as session:
            checkpoint = await session.get(SyncCheckpoint, (cid, entity))
            since = None if checkpoint is None else checkpoint.pushed_until
            recent = (
                model.updated_at >= since - timedelta(seconds=self.connection.lookback_seconds)
                if since is not None
                else model.id.is_not(None)
            )
            joined = and_(
                SyncLink.connection_id == cid,
                SyncLink.entity == entity,
                SyncLink.local_id == model.id,
            )
            query = (
                select(model.id)
                .outerjoin(SyncLink, joined)
                .where(
                    or_(
                        and_(SyncLink.id.is_(None), recent, model.deleted_at.is_(None)),
                        SyncLink.pending.is_not(None),
                        and_(
                            recent,
                            or_(
                                SyncLink.local_version.is_(None),
                                SyncLink.local_version != model.version,
                            ),
                        ),
                    )
                )
                .order_by(model.updated_at, model.id)
            )
            ids = list((await session.scalars(query)).all())
        for done, local_id in enumerate(ids, 1):
            await self._push_one(kind, local_id)
            if self.progress is not None:
                self.progress(entity, done, len(ids))
        async with unit_of_work(self.db, self.events) as session:
            await self._renew(session)
            checkpoint = await self._checkpoint(session, entity)
            checkpoint.pushed_until = started

    async def _push_one(self, kind: Kind, local_id: uuid.UUID) -> None:
        assert kind.model is not None
        async with unit_of_work(self.db, self.events) as session:
            await self._renew(session)
            row = await load(session, kind, local_id)
            assert row is not None
            link = await session.scalar(
                select(SyncLink).where(
                    SyncLink.connection_id == self.connection.id,
                    SyncLink.entity == kind.entity,
                    SyncLink.local_id == local_id,
                )
            )
            if link is None:
                link = SyncLink(connection_id=self.connection.id, entity=kind.entity)
                link.local_id = local_id
                session.add(link)
                await session.flush()
            base = link.base
            local = await local_values(kind, row, self._refs(session), base or {})
            link_id, version = link.id, row.version
            if base is not None and digest(local) == link.base_hash:
                link.local_version, link.pending = version, None
                return
            if local[DELETED] and (link.external_id is None or not self.connection.sync_deleted):
                link.local_version = version
                return
        await self.write_remote(kind.entity, link_id, version, local, base)

    async def _save_tally(self, session: AsyncSession) -> None:
        run = await session.get(SyncRun, self.run_id)
        assert run is not None
        self.tally.write(run)


def _uuid(text: str | None) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
