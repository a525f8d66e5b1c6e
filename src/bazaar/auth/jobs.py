"""Auth's periodic work."""

from __future__ import annotations

from datetime import timedelta

from bazaar.auth import password_reset, revocation
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.stamps import utcnow


async def purge_expired_job(runtime: Runtime) -> None:
    # Beyond the clock leeway, plus a margin for skew between this worker and the others.
    margin = timedelta(seconds=runtime.settings.auth_token_leeway_seconds, minutes=1)
    before = utcnow() - margin
    async with unit_of_work(runtime.db, runtime.events) as session:
        await revocation.purge_expired(session=session, before=before)
        await password_reset.purge_expired(session=session, before=before)


JOBS = (Job("auth-purge-expired", purge_expired_job, seconds=3600),)
