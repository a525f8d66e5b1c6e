"""The whole schedule on one screen: `bazaar serve` and `bazaar worker` run the same jobs."""

from __future__ import annotations

from bazaar import domains, idempotency
from bazaar.auth import jobs as auth_jobs
from bazaar.scheduler import Job
from bazaar.sync import jobs as sync_jobs


def all_jobs() -> list[Job]:
    return [*auth_jobs.JOBS, idempotency.EXPIRY_JOB, *sync_jobs.JOBS, *domains.jobs()]
