"""Commerce's periodic work: expired holds give their units back."""

from __future__ import annotations

from bazaar.commerce import inventory
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.stamps import utcnow

SWEEP_SECONDS = 30
"""A hold outlives its expiry by at most this long (plus a batch's work)."""


async def release_expired_job(runtime: Runtime) -> None:
    async with unit_of_work(runtime.db, runtime.events) as session:
        await inventory.release_expired(session=session, now=utcnow())


JOBS = (Job("commerce-release-expired-holds", release_expired_job, seconds=SWEEP_SECONDS),)
