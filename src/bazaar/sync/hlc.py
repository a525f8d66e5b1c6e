"""Hybrid logical clocks.

A timestamp is (wall milliseconds, counter, node id). The clock never goes backwards,
moves past every timestamp it receives (so an effect always sorts after its cause), and
stays close to physical time. Ties between distinct nodes break by node id, so any two
timestamps from different nodes are ordered.

`HLC.encode()` gives a fixed-width string whose plain string order (Python, SQLite's
BINARY collation, PostgreSQL's "C" collation) equals the timestamp order.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

WALL_DIGITS = 13
COUNTER_DIGITS = 6
_MAX_COUNTER = 10**COUNTER_DIGITS - 1
MAX_FUTURE_DRIFT_MS = 60_000
_NODE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_ENCODED = re.compile(rf"^(\d{{{WALL_DIGITS}}})-(\d{{{COUNTER_DIGITS}}})-(.+)$")


class InvalidTimestamp(ValueError):
    pass


class ClockDriftError(ValueError):
    """A remote timestamp lies too far in our future: accepting it would drag every later
    local timestamp forward with it, so it is refused instead."""

    code = "clock_drift"


def _validate_node_id(node_id: str) -> str:
    if not _NODE_ID.match(node_id):
        raise InvalidTimestamp(f"invalid node id {node_id!r}")
    return node_id


@dataclass(frozen=True, order=True, slots=True)
class HLC:
    wall_ms: int
    counter: int
    node_id: str

    def encode(self) -> str:
        return f"{self.wall_ms:0{WALL_DIGITS}d}-{self.counter:0{COUNTER_DIGITS}d}-{self.node_id}"

    @classmethod
    def decode(cls, text: str) -> Self:
        match = _ENCODED.match(text)
        if match is None:
            raise InvalidTimestamp(f"invalid hybrid logical clock timestamp {text!r}")
        wall, counter, node_id = match.groups()
        return cls(int(wall), int(counter), _validate_node_id(node_id))

    def __str__(self) -> str:
        return self.encode()


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """The clock of one node. Thread-safe: sync engines may stamp from worker threads."""

    def __init__(
        self,
        node_id: str,
        *,
        physical_ms: Callable[[], int] = wall_clock_ms,
        max_future_drift_ms: int = MAX_FUTURE_DRIFT_MS,
    ) -> None:
        self.node_id = _validate_node_id(node_id)
        self._physical_ms = physical_ms
        self._max_drift = max_future_drift_ms
        self._wall = 0
        self._counter = 0
        self._lock = threading.Lock()

    def _advance(self, wall: int, counter: int) -> HLC:
        # A burst that exhausts the counter borrows the next millisecond rather than wrap.
        if counter > _MAX_COUNTER:
            wall, counter = wall + 1, 0
        self._wall, self._counter = wall, counter
        return HLC(wall, counter, self.node_id)

    def now(self) -> HLC:
        """Timestamp for a local event or an outgoing message."""
        with self._lock:
            physical = self._physical_ms()
            if physical > self._wall:
                return self._advance(physical, 0)
            return self._advance(self._wall, self._counter + 1)

    def receive(self, remote: HLC) -> HLC:
        """Merge a remote timestamp; returns the local timestamp of the receive event."""
        with self._lock:
            physical = self._physical_ms()
            if remote.wall_ms - physical > self._max_drift:
                drift_s = (remote.wall_ms - physical) / 1000
                raise ClockDriftError(f"timestamp {remote} is {drift_s:.1f} s in the future")
            wall = max(self._wall, remote.wall_ms, physical)
            if wall == self._wall == remote.wall_ms:
                counter = max(self._counter, remote.counter) + 1
            elif wall == self._wall:
                counter = self._counter + 1
            elif wall == remote.wall_ms:
                counter = remote.counter + 1
            else:
                counter = 0
            return self._advance(wall, counter)

    def observe(self, remote: HLC) -> None:
        """Catch up with a timestamp already accepted earlier (e.g. read back from the
        database at start-up), so a restart after a clock step back never reissues it."""
        with self._lock:
            if (remote.wall_ms, remote.counter) > (self._wall, self._counter):
                self._wall, self._counter = remote.wall_ms, remote.counter
