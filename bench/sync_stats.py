"""Rate arithmetic for bench.sync over the sandboxes' call logs (times are `received_at`, unix seconds)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def server_seconds(calls: Iterable[dict[str, Any]]) -> float:
    """Seconds the sandbox spent answering `calls` (answered minus received, summed)."""
    return sum(c["at"] - c["received_at"] for c in calls)


def windowed_rate(times: Sequence[float], window: float) -> float:
    """Requests per second over the whole windows after the first request.

    A rolling-window limiter lets a full window's worth through at once, so (n - 1) / span overstates
    the rate of a short run; counting only whole windows does not. Falls back to (n - 1) / span when
    the run is shorter than one window.
    """
    if len(times) < 2:
        return 0.0
    span = times[-1] - times[0]
    whole = int(span // window)
    if whole < 1:
        return (len(times) - 1) / span if span > 0 else 0.0
    end = times[0] + whole * window
    return bisect.bisect_left(times, end) / (whole * window)


def busiest(times: Sequence[float], window: float) -> int:
    """The most requests in any `window`-long interval [t, t + window)."""
    return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)


@dataclass(frozen=True)
class BucketPhases:
    """A leaky-bucket run split where the bucket first filled: the burst, then the steady drain."""

    burst_calls: int
    burst_seconds: float
    steady_times: list[float]
    steady_rate: float
    peak: float

    @property
    def steady_calls(self) -> int:
        """Requests after the bucket filled."""
        return len(self.steady_times)


def bucket_phases(times: Sequence[float], drain: float, capacity: int) -> BucketPhases:
    """Replay the accepted requests through the CRM's leaky bucket: where it filled, the peak level, and the
    steady rate after that (requests after the fill / seconds from the fill to the last request)."""
    level, peak, full, previous = 0.0, 0.0, len(times), times[0] if times else 0.0
    for i, t in enumerate(times):
        level = max(0.0, level - (t - previous) * drain) + 1.0
        previous, peak = t, max(peak, level)
        if full == len(times) and level > capacity - 1.0:
            full = i
    if full >= len(times) - 1:
        return BucketPhases(len(times), times[-1] - times[0] if times else 0.0, [], 0.0, peak)
    steady = list(times[full + 1:])
    return BucketPhases(full + 1, times[full] - times[0], steady, len(steady) / (steady[-1] - times[full]), peak)
