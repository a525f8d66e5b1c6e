"""Commerce as the platform sees it: its routes, what it tells, its jobs, its demo data."""

from __future__ import annotations

from bazaar.commerce import cart_router, demo, events, jobs, loyalty_router, router
from bazaar.domain import Domain

DOMAIN = Domain(
    name="commerce",
    routers=(router.router, cart_router.router, loyalty_router.router),
    events=events.EVENTS,
    jobs=jobs.JOBS,
    demo=demo.seed_demo,
)
