"""The arithmetic of the reports, one rule each: shares, rates with their 95% Wilson interval and a minimum
number of cases, quantiles of durations, and the symptom of working with the wrong audience."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the two-sided 95% quantile of the normal distribution
MIN_CASES = 20  # below this many cases a rate says "not enough data" instead of a number


@dataclass(frozen=True)
class Rate:
    """`hits` of `n` cases: the share, its 95% Wilson interval, and whether n reaches MIN_CASES."""

    hits: int
    n: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        """hits / n, or None without cases."""
        return self.hits / self.n if self.n else None

    @property
    def enough(self) -> bool:
        """Whether there are enough cases (MIN_CASES) to show the rate as a number."""
        return self.n >= MIN_CASES

    def below(self, other: Rate) -> bool:
        """Whether this rate is lower than `other` with intervals that do not overlap (both with enough
        cases)."""
        return (self.enough and other.enough and self.high is not None and other.low is not None
                and self.high < other.low)


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when whole is 0."""
    return part / whole if whole else None


def wilson(hits: int, n: int, z: float = Z95) -> Rate:
    """hits of n as a Rate with the Wilson score interval (well behaved for small n and for rates near 0 or 1,
    unlike hits/n ± z·sqrt(p(1-p)/n)). ValueError when hits is outside 0..n."""
    if n < 0 or hits < 0 or hits > n:
        raise ValueError(f"{hits} hits of {n} cases")
    if n == 0:
        return Rate(0, 0, None, None)
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 and n hits the bound is 0 or 1 exactly; floating point would give 1e-17 off it.
    low = 0.0 if hits == 0 else max(0.0, centre - half)
    high = 1.0 if hits == n else min(1.0, centre + half)
    return Rate(hits, n, low, high)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of `values` by linear interpolation between the closest ranks (numpy's default,
    "linear"); None for no values. ValueError for q outside 0..1."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} outside 0..1")
    if not values:
        return None
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (at - below)


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None for no values."""
    return quantile(values, 0.5)


def wrong_audience(activity: int, team_activity: float | None, win: Rate, team_win: Rate) -> bool:
    """The articles' symptom of working with a non-target audience: more activity than the team's median, yet a
    win rate below the team's with non-overlapping 95% intervals (many meetings, no results)."""
    return team_activity is not None and activity > team_activity and win.below(team_win)
