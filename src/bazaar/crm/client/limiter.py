"""The client-side request budget of a connection, so the CRM's limit is not hit at all.

A moving window from `limits` (Bazaar's rate-limit library) at the configured rate: no 60
seconds ever hold more requests than the limit, which a server counting in any window of its
own accepts. The window is a second longer than a minute because the server counts arrivals,
and a request sent a minute after another may arrive a little less than a minute later.
Headers tighten it: when the server says no request remains (`X-RateLimit-Remaining` /
`RateLimit-Remaining`), nothing is sent before its reset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

WINDOW_SECONDS = 61
EPOCH_THRESHOLD = 1_000_000_000  # a reset this large is a Unix time, not a number of seconds


class RequestBudget:
    def __init__(
        self, per_minute: int | None, *, window: int = WINDOW_SECONDS, key: str = "crm"
    ) -> None:
        self._item = None if per_minute is None else RateLimitItemPerSecond(per_minute, window)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._key = key
        self._closed_until = 0.0  # monotonic
        self.waited = 0.0
        """Seconds spent waiting for the budget, in total."""

    async def acquire(self) -> None:
        while True:
            pause = self._closed_until - time.monotonic()
            if pause > 0:
                await self._sleep(pause)
                continue
            if self._item is None or await self._limiter.hit(self._item, self._key):
                return
            stats = await self._limiter.get_window_stats(self._item, self._key)
            await self._sleep(max(stats.reset_time - time.time(), 0.005))

    async def _sleep(self, seconds: float) -> None:
        self.waited += seconds
        await asyncio.sleep(seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining = _number(headers, "x-ratelimit-remaining", "ratelimit-remaining")
        if remaining is None or remaining > 0:
            return
        reset = _number(headers, "x-ratelimit-reset", "ratelimit-reset")
        if reset is None:
            return
        seconds = reset - time.time() if reset > EPOCH_THRESHOLD else reset
        self._closed_until = max(self._closed_until, time.monotonic() + max(seconds, 0.0))


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None
