"""RFM: recency (days since the last purchase), frequency (number of purchases) and monetary value (revenue) per
customer, scored 1-5 and mapped to named segments (DOMAIN.md "RFM analysis"; the R x F map of
scoring-and-personas.md §3.1).

Scores by quintiles with one tie policy: score = 1 + floor(5 x (customers with a strictly worse value) / customers).
Equal values always get equal scores (half a B2C base with one purchase all get F = 1; no rank is broken by input
order), and a customer's score never drops when its own value improves. Fixed thresholds may replace quintiles:
four ascending bounds; F and M score 1 + (bounds <= value), R scores 5 - (bounds < days).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from service.domain.analytics.purchases import AnalyticsError, History


class Segment(StrEnum):
    """The named RFM segments."""

    CHAMPIONS = "Champions"
    LOYAL = "Loyal"
    POTENTIAL_LOYALISTS = "Potential loyalists"
    NEW = "New"
    PROMISING = "Promising"
    NEED_ATTENTION = "Need attention"
    ABOUT_TO_SLEEP = "About to sleep"
    AT_RISK = "At risk"
    CANT_LOSE = "Can't lose"
    HIBERNATING = "Hibernating"
    LOST = "Lost"


def _segment_of(r: int, f: int) -> Segment:
    """The widely copied R x F map, with Lost carved out of Hibernating at R = 1 and F = 1."""
    if r >= 4:
        if f >= 4:
            return Segment.CHAMPIONS if r == 5 else Segment.LOYAL
        if f >= 2:
            return Segment.POTENTIAL_LOYALISTS
        return Segment.NEW if r == 5 else Segment.PROMISING
    if r == 3:
        return Segment.LOYAL if f >= 4 else Segment.NEED_ATTENTION if f == 3 else Segment.ABOUT_TO_SLEEP
    if f == 5:
        return Segment.CANT_LOSE
    if f >= 3:
        return Segment.AT_RISK
    return Segment.LOST if r == 1 and f == 1 else Segment.HIBERNATING


# Every (R, F) cell of the map; M is reported per segment, not used to name it.
SEGMENT_MAP: dict[tuple[int, int], Segment] = {(r, f): _segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}


@dataclass(frozen=True, slots=True)
class RfmScore:
    """One customer's raw values, its 1-5 scores, its continuous R and F positions (score <= position < score + 1,
    used by the hysteresis) and its segment."""

    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    r_position: float
    f_position: float
    segment: Segment


@dataclass(frozen=True)
class RfmThresholds:
    """Optional fixed bounds replacing the quintiles: four ascending numbers each (days for recency)."""

    recency_days: tuple[float, float, float, float] | None = None
    frequency: tuple[float, float, float, float] | None = None
    monetary: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("recency_days", "frequency", "monetary"):
            bounds = getattr(self, name)
            if bounds is not None and (len(bounds) != 4 or list(bounds) != sorted(bounds)):
                raise AnalyticsError("invalid RFM thresholds", {name: ["must be four ascending numbers"]})


def _quintile_positions(values: Sequence[float], higher_is_better: bool) -> list[float]:
    """1 + 5 x (share of values strictly worse) for every value, in input order."""
    ordered = sorted(values)
    n = len(ordered)
    if higher_is_better:
        return [1 + 5 * bisect_left(ordered, v) / n for v in values]
    return [1 + 5 * (n - bisect_right(ordered, v)) / n for v in values]


def _fixed_positions(values: Sequence[float], bounds: Sequence[float], higher_is_better: bool) -> list[float]:
    """The fixed-threshold score of every value, as the middle of its score's interval."""
    if higher_is_better:
        return [1.5 + bisect_right(bounds, v) for v in values]
    return [5.5 - bisect_left(bounds, v) for v in values]


def _positions(values: Sequence[float], bounds: Sequence[float] | None, higher_is_better: bool) -> list[float]:
    if bounds is None:
        return _quintile_positions(values, higher_is_better)
    return _fixed_positions(values, bounds, higher_is_better)


def rfm_scores(histories: Mapping[str, History], as_of: date,
               thresholds: RfmThresholds = RfmThresholds()) -> dict[str, RfmScore]:
    """Recency, frequency, monetary value, scores and segment of every customer as of ``as_of``."""
    ids = list(histories)
    recency = [(as_of - histories[c].last).days for c in ids]
    frequency = [histories[c].purchases for c in ids]
    monetary = [histories[c].revenue for c in ids]
    r_pos = _positions(recency, thresholds.recency_days, higher_is_better=False)
    f_pos = _positions(frequency, thresholds.frequency, higher_is_better=True)
    m_pos = _positions([float(m) for m in monetary], thresholds.monetary, higher_is_better=True)
    out = {}
    for i, cid in enumerate(ids):
        r, f = int(r_pos[i]), int(f_pos[i])
        out[cid] = RfmScore(recency[i], frequency[i], monetary[i], r, f, int(m_pos[i]), r_pos[i], f_pos[i],
                            SEGMENT_MAP[r, f])
    return out


def _distance(r_position: float, f_position: float, cell: tuple[int, int]) -> float:
    """Chebyshev distance from a point to the square [r, r + 1] x [f, f + 1] of a cell."""
    r, f = cell
    dr = max(r - r_position, 0.0, r_position - (r + 1))
    df = max(f - f_position, 0.0, f_position - (f + 1))
    return max(dr, df)


def next_segment(previous: Segment | None, computed: Segment, scores: RfmScore, margin: float) -> Segment:
    """The segment to keep: the previous one while the customer's (R, F) position is less than ``margin`` score
    points (on either axis) outside the previous segment's cells, else the newly computed one. A margin of 0 always
    takes the computed segment."""
    if previous is None or previous == computed or margin <= 0:
        return computed
    gap = min(_distance(scores.r_position, scores.f_position, cell)
              for cell, segment in SEGMENT_MAP.items() if segment == previous)
    return previous if gap < margin else computed
