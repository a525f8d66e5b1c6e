"""The shared Redis client, when `BAZAAR_REDIS_URL` is set; embedded mode runs without one."""

from __future__ import annotations

from redis.asyncio import Redis

from bazaar.config import Settings


def create_redis(settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    return Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
