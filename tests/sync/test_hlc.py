from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bazaar.sync.hlc import HLC, ClockDriftError, HybridClock, InvalidTimestamp

NODE_IDS = st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)
WALLS = st.integers(min_value=0, max_value=10**13 - 1)
TIMESTAMPS = st.builds(HLC, WALLS, st.integers(min_value=0, max_value=999_999), NODE_IDS)


class FakeTime:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


# A step is either a local event, a physical clock jump (also backwards), or a message
# received from a node whose clock is off by up to a minute either way.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("now"), st.just(0)),
        st.tuples(st.just("jump"), st.integers(min_value=-120_000, max_value=120_000)),
        st.tuples(st.just("receive"), st.integers(min_value=-60_000, max_value=60_000)),
    ),
    max_size=60,
)


@given(steps=STEPS)
def test_timestamps_only_move_forward_and_after_what_was_received(
    steps: list[tuple[str, int]],
) -> None:
    time = FakeTime(1_700_000_000_000)
    clock = HybridClock("node-a", physical_ms=time)
    last = clock.now()
    for kind, value in steps:
        if kind == "jump":
            time.ms += value
            continue
        if kind == "now":
            stamp = clock.now()
        else:
            remote = HLC(time.ms + value, 7, "node-b")
            stamp = clock.receive(remote)
            assert stamp > remote
        assert stamp > last
        assert stamp.node_id == "node-a"
        last = stamp


@given(steps=STEPS)
def test_clock_stays_close_to_the_latest_physical_or_received_time(
    steps: list[tuple[str, int]],
) -> None:
    time = FakeTime(1_700_000_000_000)
    clock = HybridClock("node-a", physical_ms=time)
    highest_seen = time.ms
    for kind, value in steps:
        if kind == "jump":
            time.ms += value
        elif kind == "now":
            highest_seen = max(highest_seen, time.ms)
            assert clock.now().wall_ms <= highest_seen
        else:
            remote = HLC(time.ms + value, 0, "node-b")
            highest_seen = max(highest_seen, time.ms, remote.wall_ms)
            assert clock.receive(remote).wall_ms <= highest_seen


def test_a_timestamp_more_than_a_minute_ahead_is_refused_and_changes_nothing() -> None:
    time = FakeTime(1_700_000_000_000)
    clock = HybridClock("hub", physical_ms=time)
    before = clock.now()
    with pytest.raises(ClockDriftError):
        clock.receive(HLC(time.ms + 60_001, 0, "laptop"))
    after = clock.now()
    assert after.wall_ms == before.wall_ms
    assert clock.receive(HLC(time.ms + 60_000, 0, "laptop")).wall_ms == time.ms + 60_000


def test_a_node_ten_minutes_behind_adopts_hub_time_and_orders_after_it() -> None:
    hub_time, laptop_time = FakeTime(1_700_000_600_000), FakeTime(1_700_000_000_000)
    hub, laptop = (
        HybridClock("hub", physical_ms=hub_time),
        HybridClock("laptop", physical_ms=laptop_time),
    )
    from_hub = hub.now()
    with pytest.raises(ClockDriftError):
        laptop.receive(from_hub)
    # The hub is the node's time authority: pulled timestamps are observed, not checked.
    laptop.observe(from_hub)
    local = laptop.now()
    assert local > from_hub
    assert hub.receive(local) > local


@given(a=TIMESTAMPS, b=TIMESTAMPS)
def test_encoded_strings_sort_like_the_timestamps(a: HLC, b: HLC) -> None:
    assert (a < b) == (a.encode() < b.encode())
    assert HLC.decode(a.encode()) == a


def test_counter_overflow_borrows_the_next_millisecond() -> None:
    clock = HybridClock("n", physical_ms=FakeTime(5))
    clock.observe(HLC(5, 999_999, "other"))
    stamp = clock.now()
    assert (stamp.wall_ms, stamp.counter) == (6, 0)


def test_observe_keeps_a_restarted_clock_ahead_of_stored_timestamps() -> None:
    clock = HybridClock("n", physical_ms=FakeTime(1_000))
    stored = HLC(9_000, 3, "n")
    clock.observe(stored)
    assert clock.now() > stored


@pytest.mark.parametrize("text", ["", "1-2-n", "0000000000001-000001-", "0000000000001-000001-a b"])
def test_malformed_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(InvalidTimestamp):
        HLC.decode(text)
