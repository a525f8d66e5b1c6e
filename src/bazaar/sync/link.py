"""Link quality and adaptive batch size.

`LinkMonitor` keeps the last attempts to reach the hub (round-trip time or failure) and rates
the link: offline as soon as the last attempt failed; once the hub answers again, the outage
(a run of `offline_after` or more failures) is dropped rather than counted as loss, so the
link is rated by how it behaves now. Shorter runs of failures between answers are loss.

`BatchSizer` is additive-increase / multiplicative-decrease, as TCP congestion control:
a fast successful batch grows the next one by a step, a failure or a slow batch halves it,
always within [minimum, maximum].
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class LinkQuality(StrEnum):
    OFFLINE = "offline"
    POOR = "poor"
    FAIR = "fair"
    GOOD = "good"
    EXCELLENT = "excellent"


@dataclass(frozen=True, slots=True)
class _Grade:
    quality: LinkQuality
    max_rtt_ms: float
    max_loss: float


# Best first; a link gets the first grade whose round-trip time and loss it meets.
_GRADES = (
    _Grade(LinkQuality.EXCELLENT, max_rtt_ms=100, max_loss=0.0),
    _Grade(LinkQuality.GOOD, max_rtt_ms=300, max_loss=0.05),
    _Grade(LinkQuality.FAIR, max_rtt_ms=1000, max_loss=0.2),
)


@dataclass(frozen=True, slots=True)
class LinkReport:
    quality: LinkQuality
    rtt_ms: float | None
    """Median round-trip time of the successful probes in the window."""
    loss: float
    """Share of failed probes in the window."""
    samples: int


class LinkMonitor:
    def __init__(self, *, window: int = 20, offline_after: int = 3) -> None:
        self._samples: deque[float | None] = deque(maxlen=window)
        self._offline_after = offline_after

    def record_success(self, rtt_ms: float) -> None:
        failed = 0
        while failed < len(self._samples) and self._samples[-1 - failed] is None:
            failed += 1
        if failed >= self._offline_after:
            for _ in range(failed):
                self._samples.pop()
        self._samples.append(max(rtt_ms, 0.0))

    def record_failure(self) -> None:
        self._samples.append(None)

    def report(self) -> LinkReport:
        samples = list(self._samples)
        rtts = [s for s in samples if s is not None]
        loss = (len(samples) - len(rtts)) / len(samples) if samples else 1.0
        rtt = statistics.median(rtts) if rtts else None
        # Never reached, or the last attempt failed: the hub is unreachable now, whatever the
        # older samples say.
        if not rtts or samples[-1] is None:
            quality = LinkQuality.OFFLINE
        else:
            quality = next(
                (
                    g.quality
                    for g in _GRADES
                    if rtt is not None and rtt <= g.max_rtt_ms and loss <= g.max_loss
                ),
                LinkQuality.POOR,
            )
        return LinkReport(quality=quality, rtt_ms=rtt, loss=loss, samples=len(samples))


class BatchSizer:
    def __init__(
        self,
        *,
        minimum: int = 10,
        maximum: int = 1000,
        initial: int = 100,
        step: int = 50,
        slow_seconds: float = 5.0,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("batch sizes must satisfy 1 <= minimum <= initial <= maximum")
        self.minimum, self.maximum, self.step = minimum, maximum, step
        self.slow_seconds = slow_seconds
        self.size = initial

    def _set(self, size: int) -> None:
        self.size = min(self.maximum, max(self.minimum, size))

    def on_success(self, seconds: float) -> None:
        if seconds > self.slow_seconds:
            self._set(self.size // 2)
        else:
            self._set(self.size + self.step)

    def on_failure(self) -> None:
        self._set(self.size // 2)
