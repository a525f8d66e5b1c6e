"""The whole schedule on one screen: importing this registers every domain's periodic jobs,
so `bazaar serve` and `bazaar worker` run the same ones."""

from bazaar import idempotency
from bazaar.auth import revocation
from bazaar.scheduler import registered_jobs
from bazaar.sync import jobs as sync_jobs

__all__ = ["idempotency", "registered_jobs", "revocation", "sync_jobs"]
