"""Rate limits on the `limits` library: in memory when embedded, in Redis (shared by every worker)
when scaled.

Sign-in, sign-up and refresh limits use moving windows, so an attacker cannot double the
allowance at a window boundary. A request takes its slot before the work it limits (a password
check): taking a slot is atomic in memory and in Redis, so concurrent requests cannot exceed a
limit the way check-then-count could. The per-user limit on every authenticated call uses fixed
windows: one counter per user and window instead of one entry per request, and a boundary
burst there costs nothing worth guarding. With Redis that limit is counted locally and added to
Redis in one pipeline every `SHARE_EVERY` seconds (`SharedWindows`), so it costs no round trip
per request; a user may overshoot it by what the other workers counted since their last share.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Sequence

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from redis.asyncio import Redis

from bazaar.errors import RateLimitedError

log = structlog.get_logger(__name__)


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
        self._shared = SharedWindows(redis) if redis is not None else None

    async def hit(self, rules: Sequence[RateLimitItem], *key: str) -> None:
        """Count one request against every rule; 429 when any of them is exhausted."""
        await _hit(self._limiter, rules, key)

    async def close(self) -> None:
        """Stop sharing counts (the process is shutting down: a window's last hits may be lost)."""
        if self._shared is not None:
            await self._shared.close()

    async def hit_coarse(self, rules: Sequence[RateLimitItem], *key: str) -> None:
        """`hit` in fixed windows, for limits on every request: without a round trip to Redis."""
        if self._shared is None:
            await _hit(self._coarse, rules, key)
            return
        for rule in sorted(rules, key=lambda r: r.get_expiry()):
            retry_after = self._shared.hit(rule, key)
            if retry_after is not None:
                raise RateLimitedError(retry_after=retry_after)


SHARE_EVERY = 0.25
"""Seconds between a worker's shares of its local counts with Redis."""


class SharedWindows:
    """Fixed windows counted in this process and shared through Redis in batches.

    A hit is decided locally against the window's total as last read from Redis plus the hits
    counted here since; a background share adds those to Redis (INCRBY, one pipeline for every
    key) and reads the totals back. Across workers a user can exceed the limit by at most the
    hits the other workers counted within one share interval."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._unshared: dict[str, int] = defaultdict(int)
        self._known: dict[str, int] = {}
        """Each window's total across workers, as Redis last answered."""
        self._ends: dict[str, float] = {}
        self._sharing: asyncio.Task[None] | None = None

    def hit(self, rule: RateLimitItem, key: Sequence[str]) -> int | None:
        """Count a hit: None when allowed, else the seconds until the window resets."""
        expiry = rule.get_expiry()
        now = time.time()
        window = int(now // expiry)
        name = f"bazaar:ratelimit:shared:{rule.amount}/{expiry}:{':'.join(key)}:{window}"
        ends = (window + 1) * expiry
        if self._known.get(name, 0) + self._unshared[name] >= rule.amount:
            return max(1, math.ceil(ends - now))
        self._unshared[name] += 1
        self._ends[name] = ends
        if self._sharing is None or self._sharing.done():
            self._sharing = asyncio.get_running_loop().create_task(self._share_soon())
        return None

    async def close(self) -> None:
        if self._sharing is not None and not self._sharing.done():
            self._sharing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sharing

    async def _share_soon(self) -> None:
        await asyncio.sleep(SHARE_EVERY)
        counts, self._unshared = self._unshared, defaultdict(int)
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, count in counts.items():
                    pipe.incrby(name, count)
                    pipe.expireat(name, math.ceil(self._ends[name]) + 1)
                totals = (await pipe.execute())[::2]
        except Exception:
            log.exception("rate_limit_share_failed")
            for name, count in counts.items():
                self._unshared[name] += count
            return
        self._known.update(zip(counts, map(int, totals), strict=True))
        for name in [n for n, ends in self._ends.items() if ends < now]:
            self._known.pop(name, None)
            self._ends.pop(name, None)


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
