"""The CRM's periodic work: sync every connection whose interval has passed. The scheduler
runs it on its leader only; each run still takes its connection's lease, so an API-started
run and a scheduled one never overlap."""

from __future__ import annotations

import structlog

from bazaar.crm.errors import SyncRunning
from bazaar.crm.mirror import runs
from bazaar.crm.mirror.metrics import SyncMetrics
from bazaar.db import unit_of_work
from bazaar.runtime import Runtime
from bazaar.scheduler import Job

log = structlog.get_logger(__name__)

CHECK_SECONDS = 60.0
"""How often due connections are looked for; each has its own interval (default 15 min)."""


async def sync_due_connections(runtime: Runtime) -> None:
    metrics = None if runtime.registry is None else SyncMetrics.on(runtime.registry)
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        due = await runs.due_connections(session=session)
    for connection_id in due:
        try:
            run_id = await runs.start_run(
                db=runtime.db,
                events=runtime.events,
                connection_id=connection_id,
                trigger="schedule",
            )
        except SyncRunning:
            continue
        status = await runs.execute(
            db=runtime.db, events=runtime.events, run_id=run_id, metrics=metrics
        )
        log.info("crm_sync_run", run_id=str(run_id), status=status.value)


JOBS = (Job("crm-sync", sync_due_connections, CHECK_SECONDS),)
