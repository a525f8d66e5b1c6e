"""What a running Bazaar process holds: settings, database, event bus and optional Redis.

The web app keeps one on `app.state` (also as `app.state.db`, `.events`, `.redis`,
`.settings`); `bazaar worker` and the CLI build their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bazaar.config import Settings
from bazaar.db import Database
from bazaar.events import EventBus
from bazaar.redis_client import create_redis


@dataclass
class Runtime:
    settings: Settings
    db: Database
    events: EventBus
    redis: Redis | None

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        return cls(settings, Database.from_settings(settings), EventBus(), create_redis(settings))

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
