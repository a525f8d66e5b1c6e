"""Rate limits on the `limits` library: in memory when embedded, in Redis (shared by every worker)
when scaled.

Sign-in, sign-up and refresh limits use moving windows, so an attacker cannot double the
allowance at a window boundary. A request takes its slot before the work it limits (a password
check): taking a slot is atomic in memory and in Redis, so concurrent requests cannot exceed a
limit the way check-then-count could. The per-user limit on every authenticated call uses fixed
windows: one counter per user and window instead of one entry per request, and a boundary
burst there costs nothing worth guarding.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from redis.asyncio import Redis

from bazaar.errors import RateLimitedError


class RateLimits:
    def __init__(self, redis: Redis | None) -> None:
        storage: Storage
        if redis is None:
            storage = MemoryStorage()
        else:
            # Shares the process's connection pool, which the runtime closes at shutdown.
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                # limits types its options narrowly; connection_pool is documented and supported.
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
                key_prefix="bazaar:ratelimit",
            )
        self._limiter = MovingWindowRateLimiter(storage)
        self._coarse = FixedWindowRateLimiter(storage)

    async def hit(self, rules: Sequence[RateLimitItem], *key: str) -> None:
        """Count one request against every rule; 429 when any of them is exhausted."""
        await _hit(self._limiter, rules, key)

    async def hit_coarse(self, rules: Sequence[RateLimitItem], *key: str) -> None:
        """`hit` in fixed windows: cheaper, for limits on every request."""
        await _hit(self._coarse, rules, key)


async def _hit(limiter: RateLimiter, rules: Sequence[RateLimitItem], key: Sequence[str]) -> None:
    # Shortest window first: a request the minute's rule refuses must not use up the hour's.
    for rule in sorted(rules, key=lambda r: r.get_expiry()):
        if not await limiter.hit(rule, *key):
            raise await _limited(limiter, rule, key)


async def _limited(
    limiter: RateLimiter, rule: RateLimitItem, key: Sequence[str]
) -> RateLimitedError:
    stats = await limiter.get_window_stats(rule, *key)
    return RateLimitedError(retry_after=math.ceil(stats.reset_time - time.time()))


def rules(text: str) -> list[RateLimitItem]:
    """'100/hour;10/minute' -> the rules, all of which apply."""
    return parse_many(text)
