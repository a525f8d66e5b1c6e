from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bazaar.sync.backoff import ceiling, full_jitter, next_attempt_at


@given(attempt=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_delay_is_within_zero_and_the_capped_exponential(attempt: int, seed: int) -> None:
    delay = full_jitter(attempt, base_seconds=1.0, cap_seconds=300.0, rng=random.Random(seed))
    assert 0.0 <= delay <= min(300.0, 2.0 ** (min(attempt, 100) - 1))


def test_ceiling_doubles_then_stops_at_the_cap() -> None:
    bounds = [ceiling(n, base_seconds=1.0, cap_seconds=60.0) for n in range(1, 10)]
    assert bounds == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_jitter_spreads_retries_of_many_nodes() -> None:
    rng = random.Random(1)
    delays = [full_jitter(6, base_seconds=1.0, cap_seconds=300.0, rng=rng) for _ in range(1000)]
    assert min(delays) < 4
    assert max(delays) > 28
    assert len({round(d, 3) for d in delays}) > 900


def test_next_attempt_is_scheduled_after_now() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    at = next_attempt_at(now, 3, base_seconds=2.0, cap_seconds=60.0, rng=random.Random(3))
    assert now <= at <= now + timedelta(seconds=8)
