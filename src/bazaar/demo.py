"""Demo data for `bazaar seed --demo`: each domain adds its seeder to SEEDERS, in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth import demo as auth_demo
from bazaar.db import unit_of_work
from bazaar.errors import ForbiddenError
from bazaar.lending import demo as lending_demo
from bazaar.runtime import Runtime

Seeder = Callable[..., Awaitable[list[str]]]

SEEDERS: list[Seeder] = [auth_demo.seed_demo, lending_demo.seed_demo]


async def seed_demo(runtime: Runtime) -> list[str]:
    """Runs every seeder in one transaction; seeders skip what already exists."""
    if runtime.settings.environment == "production":
        raise ForbiddenError("Demo data is refused in production")
    lines: list[str] = []
    async with unit_of_work(runtime.db, runtime.events) as session:
        for seeder in SEEDERS:
            lines += await _run(seeder, session)
    return lines


async def _run(seeder: Seeder, session: AsyncSession) -> list[str]:
    return await seeder(session=session)
