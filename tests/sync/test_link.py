from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bazaar.sync.link import BatchSizer, LinkMonitor, LinkQuality

EVENTS = st.lists(
    st.one_of(st.none(), st.floats(min_value=0, max_value=30, allow_nan=False)), max_size=200
)


@given(
    events=EVENTS, minimum=st.integers(1, 50), extra=st.integers(0, 2000), step=st.integers(1, 100)
)
def test_batch_size_never_leaves_its_bounds(
    events: list[float | None], minimum: int, extra: int, step: int
) -> None:
    sizer = BatchSizer(minimum=minimum, maximum=minimum + extra, initial=minimum, step=step)
    for seconds in events:
        if seconds is None:
            sizer.on_failure()
        else:
            sizer.on_success(seconds)
        assert minimum <= sizer.size <= minimum + extra


def test_batch_grows_additively_and_halves_on_failure_or_slowness() -> None:
    sizer = BatchSizer(minimum=10, maximum=1000, initial=100, step=50, slow_seconds=5)
    sizer.on_success(0.2)
    assert sizer.size == 150
    sizer.on_failure()
    assert sizer.size == 75
    sizer.on_success(6.0)
    assert sizer.size == 37


def test_impossible_bounds_are_rejected() -> None:
    with pytest.raises(ValueError, match="batch sizes"):
        BatchSizer(minimum=10, maximum=5, initial=7)


def _monitor(samples: list[float | None]) -> LinkMonitor:
    monitor = LinkMonitor(window=20)
    for sample in samples:
        if sample is None:
            monitor.record_failure()
        else:
            monitor.record_success(sample)
    return monitor


@pytest.mark.parametrize(
    ("samples", "quality"),
    [
        ([], LinkQuality.OFFLINE),
        ([40.0] * 10, LinkQuality.EXCELLENT),
        # The last attempt failed: offline at once, whatever came before.
        ([40.0] * 19 + [None], LinkQuality.OFFLINE),
        ([40.0] * 18 + [None, 40.0], LinkQuality.GOOD),
        ([250.0] * 10, LinkQuality.GOOD),
        ([700.0] * 8 + [None, 700.0], LinkQuality.FAIR),
        ([2500.0] * 10, LinkQuality.POOR),
        ([None, 40.0] * 5, LinkQuality.POOR),
        ([40.0] * 10 + [None] * 3, LinkQuality.OFFLINE),
        # Back after an outage: the outage is not loss, the link is as good as it answers.
        ([None] * 3 + [40.0], LinkQuality.EXCELLENT),
        ([40.0] * 10 + [None] * 5 + [40.0], LinkQuality.EXCELLENT),
    ],
)
def test_quality_follows_round_trip_time_and_loss(
    samples: list[float | None], quality: LinkQuality
) -> None:
    assert _monitor(samples).report().quality is quality


def test_report_gives_median_rtt_and_loss() -> None:
    report = _monitor([10.0, 30.0, None, 20.0]).report()
    assert (report.rtt_ms, report.loss, report.samples) == (20.0, 0.25, 4)
