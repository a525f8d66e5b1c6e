"""Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
Jitter"): the delay before retry n is uniform in [0, min(cap, base * 2**n)]. Full jitter
spreads many field nodes returning at once instead of letting them retry in lockstep.

Delays are computed, not slept: the outbox stores `next_attempt_at`, so a backoff survives a
restart. That is why this is a function and not a retry decorator from a library.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

_rng = random.SystemRandom()


def ceiling(attempt: int, *, base_seconds: float, cap_seconds: float) -> float:
    """Upper bound of the delay after `attempt` failures (attempt >= 1)."""
    # Bounding the exponent first keeps 2**n from growing without limit for old items.
    exponent = min(max(attempt - 1, 0), 62)
    return min(cap_seconds, base_seconds * 2.0**exponent)


def full_jitter(
    attempt: int,
    *,
    base_seconds: float,
    cap_seconds: float,
    rng: random.Random = _rng,
) -> float:
    return rng.uniform(0.0, ceiling(attempt, base_seconds=base_seconds, cap_seconds=cap_seconds))


def next_attempt_at(
    now: datetime,
    attempt: int,
    *,
    base_seconds: float,
    cap_seconds: float,
    rng: random.Random = _rng,
) -> datetime:
    delay = full_jitter(attempt, base_seconds=base_seconds, cap_seconds=cap_seconds, rng=rng)
    return now + timedelta(seconds=delay)
