"""Demo data for `bazaar seed --demo`: the demo accounts, then each domain's seeder in order."""

from __future__ import annotations

from bazaar import domains
from bazaar.auth import demo as auth_demo
from bazaar.db import unit_of_work
from bazaar.domain import Seeder
from bazaar.errors import ForbiddenError
from bazaar.runtime import Runtime

SEEDERS: list[Seeder] = [auth_demo.seed_demo, *domains.seeders()]


async def seed_demo(runtime: Runtime) -> list[str]:
    """Runs every seeder in one transaction; seeders skip what already exists."""
    if runtime.settings.environment == "production":
        raise ForbiddenError("Demo data is refused in production")
    lines: list[str] = []
    async with unit_of_work(runtime.db, runtime.events) as session:
        for seeder in SEEDERS:
            lines += await seeder(session=session)
    return lines
