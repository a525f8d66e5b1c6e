"""The CRM as the platform sees it: its routes, how it syncs, what it tells, its demo data."""

from __future__ import annotations

from bazaar.crm import cli, connections_router, demo, events, jobs, router, sync
from bazaar.crm.mirror import router as sync_router
from bazaar.domain import Domain

DOMAIN = Domain(
    name="crm",
    routers=(router.router, connections_router.router, sync_router.router),
    sync_entities=sync.ENTITIES,
    sync_commands=sync.COMMANDS,
    events=events.EVENTS,
    jobs=jobs.JOBS,
    cli=(("crm", cli.app),),
    demo=demo.seed_demo,
)
