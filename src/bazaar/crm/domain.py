"""The CRM as the platform sees it: its routes, how it syncs, what it tells, its demo data."""

from __future__ import annotations

from bazaar.crm import connections_router, demo, events, router, sync
from bazaar.domain import Domain

DOMAIN = Domain(
    name="crm",
    routers=(router.router, connections_router.router),
    sync_entities=sync.ENTITIES,
    sync_commands=sync.COMMANDS,
    events=events.EVENTS,
    demo=demo.seed_demo,
)
