"""The index profile of a segment against all customers (scoring-and-personas.md §3.5): per attribute value, the
share in the segment / the share overall x 100 (100 = as common as everywhere, 200 = twice as common), with n, the
95 % Wilson interval of the segment share and a two-proportion z-test of the segment against the other customers.

Blank values form an explicit "unknown" bucket that is shown but never promoted into a persona. Rows with fewer
than ``min_support`` segment customers holding the value are hidden (tiny groups index absurdly high) and only
counted.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from service.domain.report_math import wilson

UNKNOWN = ""  # the value of the "unknown" bucket
MIN_SUPPORT = 30


@dataclass(frozen=True)
class IndexRow:
    """One attribute value: counts and shares in the segment and in the base, the index, the Wilson interval of the
    segment share, and the z-score and two-sided p-value of segment vs the rest of the base."""

    field: str
    value: str
    segment_count: int
    segment_size: int
    base_count: int
    base_size: int
    segment_share: float
    base_share: float
    index: float
    low: float
    high: float
    z: float
    p_value: float


@dataclass(frozen=True)
class IndexProfile:
    """The shown rows (by field, then index, highest first), how many rows were hidden under ``min_support``, and
    the name and size of the segment and the base."""

    segment: str
    segment_size: int
    base_size: int
    rows: tuple[IndexRow, ...]
    hidden: int
    min_support: int


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, float]:
    """z-score and two-sided p-value of the difference between hits_a/n_a and hits_b/n_b (pooled standard error);
    (0, 1) when either group is empty or the pooled share is 0 or 1."""
    if not n_a or not n_b:
        return 0.0, 1.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0, 1.0
    z = (hits_a / n_a - hits_b / n_b) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def index_profile(name: str, segment: Collection[str], attributes: Mapping[str, Mapping[str, str | None]], *,
                  min_support: int = MIN_SUPPORT) -> IndexProfile:
    """The index profile of ``segment`` (customer ids) against every customer of ``attributes`` (customer id ->
    field -> value); segment members without attributes are ignored. A field missing on a customer counts as
    unknown."""
    members = {c for c in segment if c in attributes}
    fields = sorted({f for values in attributes.values() for f in values})
    base_counts: dict[tuple[str, str], int] = {}
    seg_counts: dict[tuple[str, str], int] = {}
    for cid, values in attributes.items():
        inside = cid in members
        for f in fields:
            key = (f, values.get(f) or UNKNOWN)
            base_counts[key] = base_counts.get(key, 0) + 1
            if inside:
                seg_counts[key] = seg_counts.get(key, 0) + 1
    n_seg, n_base = len(members), len(attributes)
    rows, hidden = [], 0
    for (f, value), base_count in base_counts.items():
        count = seg_counts.get((f, value), 0)
        if count < min_support or not n_seg:
            hidden += 1
            continue
        seg_share, base_share = count / n_seg, base_count / n_base
        rate = wilson(count, n_seg)
        z, p = two_proportion_z(count, n_seg, base_count - count, n_base - n_seg)
        rows.append(IndexRow(f, value, count, n_seg, base_count, n_base, seg_share, base_share,
                             seg_share / base_share * 100, rate.low or 0.0, rate.high or 0.0, z, p))
    rows.sort(key=lambda r: (r.field, -r.index, r.value))
    return IndexProfile(name, n_seg, n_base, tuple(rows), hidden, min_support)
