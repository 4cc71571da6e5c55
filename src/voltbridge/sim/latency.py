"""Answer latencies in a bounded histogram: log-spaced buckets, 2 % wide, from 1 µs to 1000 s.

A load run makes millions of calls; keeping every sample would grow without bound. Percentiles
read from these buckets are within 2 % of the exact value, which is finer than run-to-run noise.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

_BASE = 1e-6
_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)
_MAX_INDEX = math.ceil(math.log(1000.0 / _BASE) / _LOG_GROWTH)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency figures of a set of calls, in seconds."""

    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float


class LatencyHistogram:
    """Counts of answer latencies (seconds)."""

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def record(self, seconds: float) -> None:
        """Add one latency."""
        seconds = max(seconds, 0.0)
        self._buckets[_index(seconds)] += 1
        self.count += 1
        self.total += seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        """Add all of ``other``'s latencies to this histogram."""
        self._buckets.update(other._buckets)
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, fraction: float) -> float:
        """The latency below which ``fraction`` (0..1) of the calls fall; 0.0 when empty."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        if self.count == 0:
            return 0.0
        if fraction == 1.0:
            return self.max
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                # The bucket's geometric middle, kept within what was actually observed.
                middle = _BASE * _GROWTH ** (index + 0.5) if index > 0 else _BASE
                return min(max(middle, self.min), self.max)
        return self.max

    def summary(self) -> LatencySummary:
        """Count, mean, p50, p90, p99 and max."""
        return LatencySummary(
            count=self.count,
            mean=self.total / self.count if self.count else 0.0,
            p50=self.percentile(0.50),
            p90=self.percentile(0.90),
            p99=self.percentile(0.99),
            max=self.max,
        )


def _index(seconds: float) -> int:
    if seconds <= _BASE:
        return 0
    return min(_MAX_INDEX, int(math.log(seconds / _BASE) / _LOG_GROWTH))
