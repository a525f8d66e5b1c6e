"""The periodic sync cycle, run by the scheduler's leader (`bazaar serve`, `bazaar worker`).

The job ticks every second and runs a cycle when BAZAAR_SYNC_INTERVAL_SECONDS have passed
since the last one began: the interval is read from the running process's settings, not at
import time, when settings may not even be valid yet.
"""

from __future__ import annotations

from bazaar.scheduler import Job
from bazaar.sync.compaction import compact_job
from bazaar.sync.worker import run_sync_job

TICK_SECONDS = 1.0

JOBS = (
    Job("sync", run_sync_job, seconds=TICK_SECONDS),
    Job("sync-compaction", compact_job, seconds=3600),
)
