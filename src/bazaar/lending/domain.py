"""Lending as the platform sees it: its routes, how it syncs, what it tells, its demo data."""

from __future__ import annotations

from bazaar.domain import Domain
from bazaar.lending import demo, events, router, sync

DOMAIN = Domain(
    name="lending",
    routers=(router.router,),
    sync_entities=sync.ENTITIES,
    sync_commands=sync.COMMANDS,
    events=events.EVENTS,
    demo=demo.seed_demo,
)
