"""Periodic jobs, run by exactly one process at a time (leader lease).

`bazaar.jobs` lists every job; `bazaar worker` (and `bazaar serve` unless
`BAZAAR_SCHEDULER_ENABLED=false`) runs them. Every process renews or contends for the lease;
only the leader's jobs do work, so starting several workers is safe.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bazaar.db import unit_of_work
from bazaar.leader import release, try_acquire
from bazaar.runtime import Runtime

log = structlog.get_logger(__name__)

LEASE_NAME = "scheduler"
JobFunc = Callable[[Runtime], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    id: str
    func: JobFunc
    seconds: float


class Scheduler:
    def __init__(self, runtime: Runtime, jobs: Sequence[Job]) -> None:
        self.runtime, self.jobs = runtime, tuple(jobs)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self._ttl = timedelta(seconds=runtime.settings.leader_lease_seconds)
        self._aps = AsyncIOScheduler(timezone="UTC")

    async def start(self) -> None:
        await self.contend()
        self._aps.add_job(
            self.contend, "interval", seconds=self._ttl.total_seconds() / 3, id="leader-lease"
        )
        for job in self.jobs:
            self._aps.add_job(
                self._run,
                "interval",
                args=[job],
                seconds=job.seconds,
                id=job.id,
                max_instances=1,
                coalesce=True,
            )
        self._aps.start()

    async def contend(self) -> None:
        try:
            async with unit_of_work(self.runtime.db, self.runtime.events) as session:
                leader = await try_acquire(
                    session=session, name=LEASE_NAME, holder=self.holder, ttl=self._ttl
                )
        except Exception:
            log.exception("leader_lease_failed")
            leader = False
        if leader != self.is_leader:
            log.info("leadership_changed", leader=leader, holder=self.holder)
        self.is_leader = leader

    async def _run(self, job: Job) -> None:
        if not self.is_leader:
            return
        try:
            await job.func(self.runtime)
        except Exception:
            log.exception("job_failed", job=job.id)

    async def shutdown(self) -> None:
        self._aps.shutdown(wait=False)
        if self.is_leader:
            async with unit_of_work(self.runtime.db, self.runtime.events) as session:
                await release(session=session, name=LEASE_NAME, holder=self.holder)
            self.is_leader = False
