"""The sync loop of a field node: probe the hub, push the outbox (money first), pull from the
cursor, apply, acknowledge. One cycle at a time per process; `bazaar serve` (embedded) and
`bazaar worker` (scaled) run it every BAZAAR_SYNC_INTERVAL_SECONDS, `POST /sync/batch` and
`bazaar sync now` on demand.

Each step is its own short transaction, so a crash anywhere leaves a state the next cycle
resumes from: an outbox item is only marked synced in the transaction that applies the hub's
answer, and the pull cursor only advances with the rows it covers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import unit_of_work
from bazaar.events import Audience
from bazaar.realtime.messages import NotificationType
from bazaar.realtime.service import hub_of, notify
from bazaar.runtime import Runtime
from bazaar.stamps import utcnow
from bazaar.sync import node, service
from bazaar.sync.capture import SyncContext, install, installed
from bazaar.sync.client import HubClient
from bazaar.sync.hlc import HLC
from bazaar.sync.link import BatchSizer, LinkMonitor
from bazaar.sync.models import ChangeLog, ItemStatus, Outcome, PeerRole, SyncItem, SyncPeer
from bazaar.sync.users import store_replica_users

log = structlog.get_logger(__name__)


@dataclass
class CycleReport:
    pushed: int = 0
    pulled: int = 0
    conflicts: int = 0
    failures: int = 0
    duration_ms: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _news(report: CycleReport, *, was_failing: bool) -> list[str]:
    """The `sync_status` phases a cycle is worth telling: what changed, never an idle cycle,
    and an outage once, when it begins (its end is `online`)."""
    if report.error is not None:
        return [] if was_failing else ["failed"]
    phases = ["online"] if was_failing else []
    if report.pushed or report.pulled or report.failures:
        phases.append("completed")
    if report.conflicts:
        phases.append("conflict")
    return phases


class SyncWorker:
    def __init__(self, runtime: Runtime, context: SyncContext) -> None:
        settings = runtime.settings
        self.runtime, self.context = runtime, context
        self.link = LinkMonitor()
        self.sizer = BatchSizer(
            minimum=settings.sync_batch_min,
            maximum=max(settings.sync_batch_max, settings.sync_batch_min),
            initial=min(
                max(settings.sync_batch_initial, settings.sync_batch_min), settings.sync_batch_max
            ),
        )
        self.last_cycle: CycleReport | None = None
        self.last_cycle_at: Any = None
        self.transport: httpx.AsyncBaseTransport | None = None
        self._lock = asyncio.Lock()
        self._last_start: float | None = None

    @property
    def is_node(self) -> bool:
        return self.runtime.settings.sync_hub_url is not None

    async def network_status(self, principal: Principal) -> dict[str, Any]:
        status: dict[str, Any] = {
            "role": "node" if self.is_node else "hub",
            "node_id": self.context.node_id,
            "hub_url": self.runtime.settings.sync_hub_url,
            "batch_size": self.sizer.size,
            "last_cycle": self.last_cycle.as_dict() if self.last_cycle else None,
        }
        async with unit_of_work(self.runtime.db, self.runtime.events, read_only=True) as session:
            if not self.is_node:
                # A hub probes nobody: it has no link of its own to rate, only its nodes.
                nodes = await service.node_contacts(session=session, principal=principal)
                return status | {
                    "quality": None,
                    "rtt_ms": None,
                    "loss": None,
                    "samples": 0,
                    "last_sync_at": None,
                    "nodes": nodes,
                }
            peer = await find_hub_peer(session=session)
        link = self.link.report()
        return status | {
            "quality": link.quality,
            "rtt_ms": link.rtt_ms,
            "loss": link.loss if link.samples else None,
            "samples": link.samples,
            "last_sync_at": peer.last_sync_at if peer else None,
            "nodes": None,
        }

    async def force(
        self, *, principal: Principal | None, entity_type: str, entity_id: uuid.UUID
    ) -> CycleReport:
        """Make the entity's waiting or failed items due now (those `principal` may see), and
        run a cycle."""
        async with self._uow() as session:
            await service.force(
                session=session, principal=principal, entity_type=entity_type, entity_id=entity_id
            )
        return await self.cycle()

    def due(self) -> bool:
        interval = self.runtime.settings.sync_interval_seconds
        return self._last_start is None or time.monotonic() - self._last_start >= interval

    async def cycle(self) -> CycleReport:
        async with self._lock:
            self._last_start = time.monotonic()
            started = time.perf_counter()
            report = CycleReport()
            async with HubClient(self.runtime.settings, transport=self.transport) as hub:
                try:
                    self.link.record_success(await hub.probe())
                    async with self._uow() as session:
                        await node.recover_interrupted(session=session)
                    await self._push(hub, report)
                    await self._pull(hub, report)
                except httpx.HTTPError as exc:
                    self.link.record_failure()
                    report.error = f"{type(exc).__name__}: {exc}"
                    async with self._uow() as session:
                        peer = await hub_peer(session=session, settings_url=hub.base_url)
                        peer.last_error = report.error[:1000]
            report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
            was_failing = self.last_cycle is not None and self.last_cycle.error is not None
            self.last_cycle, self.last_cycle_at = report, utcnow()
            for phase in _news(report, was_failing=was_failing):
                await self._notify(phase, report)
            return report

    def _uow(self) -> Any:
        return unit_of_work(self.runtime.db, self.runtime.events)

    async def _push(self, hub: HubClient, report: CycleReport) -> None:
        sending = await self._send_next(hub, report)
        try:
            while sending is not None:
                ids, answer = await sending
                # The hub works on the next batch while this one's answer is applied here.
                sending = await self._send_next(hub, report)
                await self._apply_answer(ids, answer, report)
        finally:
            if sending is not None:
                # Only after a failure here. The batch's items stay `syncing` and go again
                # next cycle, answered as duplicates if the hub applied them.
                sending.cancel()
                await asyncio.wait([sending])
                if not sending.cancelled():
                    sending.exception()  # its own failure is recorded; this one propagates

    async def _send_next(
        self, hub: HubClient, report: CycleReport
    ) -> asyncio.Task[tuple[list[Any], dict[str, Any]]] | None:
        """Mark the next due batch `syncing` and start pushing it; None when none is due."""
        async with self._uow() as session:
            items = await node.due_items(session=session, limit=self.sizer.size, now=utcnow())
            for item in items:
                item.status = ItemStatus.SYNCING
            payloads = [item.payload for item in items]
            ids = [item.id for item in items]
        if not ids:
            return None
        return asyncio.create_task(self._send(hub, ids, payloads, report))

    async def _send(
        self, hub: HubClient, ids: list[Any], payloads: list[dict[str, Any]], report: CycleReport
    ) -> tuple[list[Any], dict[str, Any]]:
        started = time.perf_counter()
        try:
            answer = await hub.push(payloads)
        except httpx.HTTPError as exc:
            self.sizer.on_failure()
            async with self._uow() as session:
                for item in await self._items(session, ids):
                    await self._record_failure(
                        session, item, f"{type(exc).__name__}: {exc}", report
                    )
            raise
        self.sizer.on_success(time.perf_counter() - started)
        return ids, answer

    async def _items(self, session: Any, ids: list[Any]) -> list[SyncItem]:
        rows = await session.execute(select(SyncItem).where(SyncItem.id.in_(ids)))
        return list(rows.scalars())

    async def _record_failure(
        self, session: Any, item: SyncItem, error: str, report: CycleReport
    ) -> None:
        settings = self.runtime.settings
        await node.record_failure(
            session=session,
            item=item,
            error=error,
            max_attempts=settings.sync_max_attempts,
            base_seconds=settings.sync_backoff_base_seconds,
            cap_seconds=settings.sync_backoff_cap_seconds,
        )
        report.failures += item.status is ItemStatus.FAILED

    async def _apply_answer(
        self, ids: list[Any], answer: dict[str, Any], report: CycleReport
    ) -> None:
        results = {r["mutation_id"]: r for r in answer["results"]}
        overridden: list[dict[str, Any]] = []
        async with self._uow() as session:
            items = await self._items(session, ids)
            for item in items:
                result = results.get(str(item.id))
                if result is None:
                    item.status = ItemStatus.PENDING
                    continue
                outcome = Outcome(result["outcome"])
                if result.get("retryable"):
                    error = f"{result.get('code')}: {result.get('reason')}"
                    await self._record_failure(session, item, error, report)
                    continue
                await node.record_outcome(
                    session=session, item=item, outcome=outcome, reason=result.get("reason")
                )
                if result.get("overridden"):
                    overridden.append(
                        {
                            "entity_type": item.entity_type,
                            "entity_id": str(item.entity_id),
                            "fields": result["overridden"],
                        }
                    )
                report.pushed += outcome in (Outcome.APPLIED, Outcome.DUPLICATE)
                report.conflicts += outcome is Outcome.CONFLICT
                report.failures += outcome is Outcome.REJECTED
            await session.flush()
            await store_replica_users(session=session, users=answer.get("users", []))
            rows = [row for item in items for row in results.get(str(item.id), {}).get("rows", [])]
            await node.apply_hub_rows(session=session, context=self.context, rows=rows, newest=True)
        for edit in overridden:
            # The officer's offline edit lost to the hub's newer value: say so, once.
            await self._tell("overridden", edit)

    async def _pull(self, hub: HubClient, report: CycleReport) -> None:
        async with self._uow() as session:
            peer = await hub_peer(session=session, settings_url=self.runtime.settings.sync_hub_url)
            since = peer.pull_cursor
        while True:
            page = await hub.pull(since=since, limit=self.sizer.size)
            if page.get("reset"):
                await self._rebootstrap(hub, report)
                return
            async with self._uow() as session:
                peer = await hub_peer(
                    session=session, settings_url=self.runtime.settings.sync_hub_url
                )
                if peer.pull_cursor != since:
                    return  # another cycle moved on meanwhile
                await self._take(session, page, report)
                self._advance(peer, page)
            if not page["has_more"]:
                return
            since = page["next_cursor"]

    async def _rebootstrap(self, hub: HubClient, report: CycleReport) -> None:
        """The hub compacted what this node had not pulled yet: pull the whole scope again
        and drop what it no longer holds. The cursor moves only at the end, so a node that
        stops half way starts over."""
        seen: set[tuple[str, uuid.UUID]] = set()
        since = 0
        while True:
            page = await hub.pull(since=since, limit=self.sizer.size, full=True)
            seen |= {(r["entity_type"], uuid.UUID(r["entity_id"])) for r in page["changes"]}
            async with self._uow() as session:
                await self._take(session, page, report)
                if not page["has_more"]:
                    await node.drop_unseen(session=session, seen=seen)
                    peer = await hub_peer(
                        session=session, settings_url=self.runtime.settings.sync_hub_url
                    )
                    self._advance(peer, page)
                    return
            since = page["next_cursor"]

    async def _take(self, session: AsyncSession, page: dict[str, Any], report: CycleReport) -> None:
        await store_replica_users(session=session, users=page["users"])
        report.pulled += await node.apply_hub_rows(
            session=session, context=self.context, rows=page["changes"], newest=False
        )

    @staticmethod
    def _advance(peer: SyncPeer, page: dict[str, Any]) -> None:
        peer.pull_cursor, peer.last_sync_at, peer.last_error = page["next_cursor"], utcnow(), None
        peer.node_id, peer.user_id = page["hub_node_id"], uuid.UUID(page["user_id"])

    async def _notify(self, phase: str, report: CycleReport) -> None:
        await self._tell(phase, report.as_dict())

    async def _tell(self, phase: str, details: dict[str, Any]) -> None:
        if hub_of(self.runtime) is None:
            return  # no sockets here and no broker to reach them
        async with self._uow() as session:
            peer = await hub_peer(session=session, settings_url=self.runtime.settings.sync_hub_url)
            officer = peer.user_id
        data = {"phase": phase, "node_id": self.context.node_id, **details}
        try:
            await notify(
                self.runtime,
                type=NotificationType.SYNC_STATUS,
                data=data,
                audience=Audience(
                    officers=(str(officer),) if officer else (), roles=(Role.ADMIN.value,)
                ),
            )
        except Exception:
            log.exception("sync_status_notify_failed")


async def find_hub_peer(*, session: AsyncSession) -> SyncPeer | None:
    query = select(SyncPeer).where(SyncPeer.role == PeerRole.HUB)
    return (await session.execute(query)).scalar_one_or_none()


async def hub_peer(*, session: AsyncSession, settings_url: str | None) -> SyncPeer:
    peer = await find_hub_peer(session=session)
    if peer is None:
        peer = SyncPeer(node_id="hub", role=PeerRole.HUB, url=settings_url)
        session.add(peer)
        await session.flush()
    return peer


_WORKERS: dict[int, SyncWorker] = {}


async def worker_for(runtime: Runtime) -> SyncWorker:
    """The process's sync worker for this runtime, installing change capture on first use."""
    worker = _WORKERS.get(id(runtime))
    if worker is None:
        context = installed(runtime.db) or install(runtime.db, runtime.settings)
        await restore_clock(runtime, context)
        worker = _WORKERS[id(runtime)] = SyncWorker(runtime, context)
    return worker


async def restore_clock(runtime: Runtime, context: SyncContext) -> None:
    """Never stamp below what this database already holds, even after the wall clock
    stepped back across a restart. Best effort: a process whose database is down still
    starts (and says so on /health/ready); the clock then only has the wall time."""
    try:
        async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
            query = select(ChangeLog.hlc).order_by(ChangeLog.seq.desc()).limit(1)
            newest = await session.scalar(query)
    except (OSError, SQLAlchemyError) as exc:
        log.warning("sync_clock_not_restored", error=str(exc))
        return
    if newest is not None:
        context.clock.observe(HLC.decode(newest))


async def run_sync_job(runtime: Runtime) -> None:
    worker = await worker_for(runtime)
    if worker.is_node and worker.due():
        report = await worker.cycle()
        if report.error:
            log.info("sync_cycle_failed", error=report.error)
