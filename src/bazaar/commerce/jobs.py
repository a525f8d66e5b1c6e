"""Commerce's periodic work: expired holds give their units back; expired points are written off."""

from __future__ import annotations

from bazaar.commerce import inventory, loyalty
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.stamps import utcnow

SWEEP_SECONDS = 30
"""A hold outlives its expiry by at most this long (plus a batch's work)."""


async def release_expired_job(runtime: Runtime) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        await inventory.release_expired(session=session, now=utcnow())


async def expire_points_job(runtime: Runtime) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        await loyalty.expire_due(session=session, now=utcnow())


POINTS_SWEEP_SECONDS = 3600
"""Balances already leave out due points; the sweep only writes them on the ledger."""

JOBS = (
    Job("commerce-release-expired-holds", release_expired_job, seconds=SWEEP_SECONDS),
    Job("commerce-expire-points", expire_points_job, seconds=POINTS_SWEEP_SECONDS),
)
