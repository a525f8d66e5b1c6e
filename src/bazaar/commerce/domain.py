"""Commerce as the platform sees it: its routes, what it tells, its jobs, its demo data."""

from __future__ import annotations

from bazaar.commerce import (
    buyer_router,
    cart_router,
    cli,
    demo,
    events,
    jobs,
    loyalty_router,
    orders_router,
    router,
)
from bazaar.domain import Domain

DOMAIN = Domain(
    name="commerce",
    routers=(
        router.router,
        cart_router.router,
        loyalty_router.router,
        orders_router.router,
        buyer_router.router,
    ),
    events=events.EVENTS,
    jobs=jobs.JOBS,
    cli=(("commerce", cli.app),),
    demo=demo.seed_demo,
)
