"""What a running Bazaar process holds: settings, database, event bus, optional Redis,
the realtime hub once one starts, and the web app's metrics registry.

The web app keeps one as `app.state.runtime`; `bazaar worker` and the CLI build their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from bazaar.config import Settings
from bazaar.db import Database
from bazaar.events import EventBus
from bazaar.redis_client import create_redis

if TYPE_CHECKING:
    from bazaar.auth.context import AuthContext
    from bazaar.realtime.hub import Hub


@dataclass
class Runtime:
    settings: Settings
    db: Database
    events: EventBus
    redis: Redis | None
    realtime: Hub | None = None
    """The web app's hub, or (`realtime.service.hub_of`) a publish-only one over Redis."""
    registry: CollectorRegistry | None = None
    """The web app's Prometheus registry, so its scheduled jobs show on `/metrics`; None in
    `bazaar worker` and the CLI, which serve no metrics."""
    auth: AuthContext | None = None
    """Token keys, hasher and rate limiter, built on first use (`auth.context.auth_context`)."""

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        return cls(settings, Database.from_settings(settings), EventBus(), create_redis(settings))

    async def close(self) -> None:
        if self.auth is not None:
            await self.auth.limits.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
