"""The periodic sync cycle, run by the scheduler's leader (`bazaar serve`, `bazaar worker`)."""

from __future__ import annotations

from bazaar.config import get_settings
from bazaar.scheduler import register_job
from bazaar.sync.worker import run_sync_job


def register_sync_job() -> None:
    register_job("sync", run_sync_job, seconds=get_settings().sync_interval_seconds)
