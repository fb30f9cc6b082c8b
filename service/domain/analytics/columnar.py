"""The analyses' per-customer numbers computed over columns (numpy arrays) instead of one Purchase object per row:
the same histories, ABC classes, XYZ variation and RFM positions as purchases.py, abc.py, xyz.py and rfm.py, to the
last bit (columnar_report.py assembles them into the reference's Analysis).

Exactness: money stays in integer minor units (int64; a purchase log whose absolute amounts add up past 2^62 is
refused) and becomes Decimal only at the end; floats are computed with the reference's operations in the reference's
order (np.bincount adds its weights one by one in array order, unlike np.sum's pairwise summation), so CVs,
positions and per-year rates are the same floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from service.domain.analytics.purchases import DAYS_PER_YEAR, AnalyticsError
from service.domain.analytics.rfm import SEGMENT_MAP, RfmThresholds, Segment
from service.domain.analytics.xyz import XyzConfig, XyzMode

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
EPOCH = date(1970, 1, 1)
_SUM_LIMIT = 2.0 ** 62


@dataclass(frozen=True)
class Columns:
    """Purchases of one currency as parallel arrays: customer id (int64; the reference's customer_id is its str),
    amount and margin in units of 10^-scale (int64; margin 0 where ``margin_known`` is False) and the day (int32
    days since 1970-01-01)."""

    customer: Ints
    amount: Ints
    day: npt.NDArray[np.int32]
    margin: Ints
    margin_known: Bools
    scale: int

    def __len__(self) -> int:
        return len(self.customer)


def columns(customer: list[int], amount: list[int], day: list[int], margin: list[int | None],
            scale: int) -> Columns:
    """Columns from plain lists (margin None where unknown); AnalyticsError when a number does not fit int64."""
    try:
        known = np.array([m is not None for m in margin], dtype=np.bool_)
        return Columns(np.array(customer, dtype=np.int64), np.array(amount, dtype=np.int64),
                       np.array(day, dtype=np.int32), np.array([m or 0 for m in margin], dtype=np.int64), known,
                       scale)
    except OverflowError:
        raise AnalyticsError("amounts too large", {"amount": ["must fit in 64-bit minor units"]}) from None


def minor_units(value: Decimal, scale: int) -> int:
    """``value`` in units of 10^-scale; AnalyticsError when it has more decimal places than ``scale``."""
    shifted = value.scaleb(scale)
    if shifted != shifted.to_integral_value():
        raise AnalyticsError("too many decimal places", {"amount": [f"at most {scale} decimal places"]})
    return int(shifted)


def to_decimal(units: int, scale: int) -> Decimal:
    """Minor units back to a Decimal with ``scale`` decimal places."""
    return Decimal(units).scaleb(-scale)


def check_sums(values: Ints) -> None:
    """AnalyticsError when sums of ``values`` could overflow int64."""
    if len(values) and float(np.abs(values.astype(np.float64)).sum()) >= _SUM_LIMIT:
        raise AnalyticsError("amounts too large", {"amount": ["their sum must fit in 64-bit minor units"]})


@dataclass(frozen=True)
class Customers:
    """Per-customer sums (customers in the order of their str ids, as members_by lists them) and the purchases
    sorted by customer, day and amount (``owner`` is each sorted purchase's customer index); ``keys`` are the
    integer ids in the same order."""

    ids: list[str]
    keys: Ints
    purchases: Ints
    revenue: Ints
    margin: Ints
    margin_known: Bools
    first: Ints
    last: Ints
    owner: Ints
    amount: Ints
    day: Ints


def sort_order(customer: Ints, day: npt.NDArray[np.int32], amount: Ints) -> Ints:
    """Indexes sorting purchases by customer, day and amount: one argsort of a packed key when it fits in 62 bits
    (several times faster than lexsort), else lexsort."""
    if not len(customer):
        return np.zeros(0, dtype=np.int64)
    low_c, low_d, low_a = int(customer.min()), int(day.min()), int(amount.min())
    days, span = int(day.max()) - low_d + 1, int(customer.max()) - low_c + 1
    amounts, rank = int(amount.max()) - low_a + 1, amount - low_a
    if span * days * amounts >= 2 ** 62:  # amounts spread too wide: rank the distinct ones (a sort more)
        values, inverse = np.unique(amount, return_inverse=True)
        amounts, rank = len(values), inverse.reshape(-1)
    if span * days * amounts >= 2 ** 62:
        return np.lexsort((amount, day, customer))
    key = ((customer - low_c) * days + (day.astype(np.int64) - low_d)) * amounts + rank
    return np.argsort(key)


def customers_of(cols: Columns) -> Customers:
    """Group ``cols`` per customer (the columnar purchases.histories)."""
    if not len(cols):
        empty = np.zeros(0, dtype=np.int64)
        return Customers([], empty, empty, empty, empty, np.zeros(0, dtype=np.bool_), empty, empty, empty, empty,
                         empty)
    order = sort_order(cols.customer, cols.day, cols.amount)
    customer, amount, day = cols.customer[order], cols.amount[order], cols.day[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    ends = np.r_[starts[1:], len(customer)]
    ids = [str(i) for i in customer[starts].tolist()]
    by_text = np.argsort(np.array(ids), kind="stable")  # members_by lists customers in str order
    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_text] = np.arange(len(ids), dtype=np.int64)
    counts = ends - starts
    return Customers(
        [ids[i] for i in by_text.tolist()], customer[starts][by_text], counts[by_text],
        np.add.reduceat(amount, starts)[by_text],
        np.add.reduceat(cols.margin[order], starts)[by_text],
        np.logical_and.reduceat(cols.margin_known[order], starts)[by_text], day[starts][by_text],
        day[ends - 1][by_text], np.repeat(rank, counts), amount, day)


def months_of(days: Ints) -> Ints:
    """year * 12 + month - 1 of every day since the epoch."""
    if not len(days):
        return days.astype(np.int64)
    low = int(days.min())  # a table over the span of days: far fewer dates than purchases to convert
    table = np.arange(low, int(days.max()) + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return table[days - low] + 1970 * 12


def tenure_years(first: Ints, as_of: date) -> Floats:
    """History.tenure_years of every customer."""
    days = ((as_of - EPOCH).days - first).astype(np.float64)
    return np.maximum(days, DAYS_PER_YEAR / 12) / DAYS_PER_YEAR


def abc_codes(values: Ints, scale: int, a: float, b: float) -> tuple[Ints, int]:
    """ABC class codes (0 A, 1 B, 2 C) of ``values`` and their positive total, as abc.abc_classes decides them."""
    positive = values > 0
    total = int(values[positive].sum())
    codes = np.full(len(values), 2, dtype=np.int64)
    if total <= 0:
        return codes, total
    exact = to_decimal(total, scale)
    # abc.py compares Decimal sums with these limits: an integer sum is below a limit iff below its ceiling.
    limits = [math.ceil((exact * Decimal(str(share)) / 100).scaleb(scale)) for share in (a, a + b)]
    distinct, inverse, counts = np.unique(values[positive], return_inverse=True, return_counts=True)
    run = (distinct * counts)[::-1]
    above = (np.cumsum(run) - run)[::-1]
    codes[positive] = np.where(above < limits[0], 0, np.where(above < limits[1], 1, 2))[inverse.reshape(-1)]
    return codes, total


def quantile_of(ordered: Floats, q: float) -> float | None:
    """report_math.quantile over an already sorted array."""
    if not len(ordered):
        return None
    at = (len(ordered) - 1) * q
    below = math.floor(at)
    above = min(below + 1, len(ordered) - 1)
    low, high = float(ordered[below]), float(ordered[above])
    return low + (high - low) * (at - below)


def as_floats(units: Ints, scale: int) -> Floats:
    """float(Decimal) of every amount: a correctly rounded quotient equals it while the units fit 2^53."""
    if len(units) and int(np.abs(units).max()) >= 2 ** 53:
        return np.array([float(to_decimal(u, scale)) for u in units.tolist()], dtype=np.float64)
    return units.astype(np.float64) / 10.0 ** scale


def squares(x: Floats) -> Floats:
    """``v ** 2`` of every value as Python computes it: libm's pow, which is not always the correctly rounded x * x
    (about 1 in 1,000 values differ in the last bit). The exact residual of x * x (Dekker's product) finds the
    values near a rounding tie, the only ones where pow (error under 0.52 ulp) can differ, and those are recomputed."""
    p = x * x
    c = 134217729.0 * x  # 2^27 + 1: Veltkamp's split of x into two 26-bit halves
    hi = c - (c - x)
    lo = x - hi
    residual = ((hi * hi - p) + 2 * hi * lo) + lo * lo
    mantissa, _ = np.frexp(p)
    near = (np.abs(residual) > 0.48 * np.spacing(np.abs(p))) | (np.abs(mantissa) == 0.5)
    if near.any():
        p[near] = [v ** 2 for v in x[near].tolist()]
    return p


@dataclass(frozen=True)
class Variations:
    """XYZ over the customers of ``index``: periods, active periods, CV, ADI, CV² of the non-zero periods."""

    index: Ints
    periods: Ints
    active: Ints
    cv: Floats
    adi: Floats
    cv2: Floats


def variations(cs: Customers, chosen: Bools, as_of: date, config: XyzConfig, scale: int) -> Variations:
    """xyz.variation of every ``chosen`` customer that has one."""
    start = months_of(cs.first)
    periods = np.minimum(config.horizon_months, as_of.year * 12 + as_of.month - start) // config.period_months
    eligible = chosen & (cs.purchases >= config.min_purchases) & (periods >= config.min_periods)
    index = np.flatnonzero(eligible)
    rank = np.full(len(cs.ids), -1, dtype=np.int64)
    rank[index] = np.arange(len(index))
    width = int(periods[index].max()) if len(index) else 0
    owner = rank[cs.owner]
    slot = (months_of(cs.day) - start[cs.owner]) // config.period_months
    keep = (owner >= 0) & (slot < periods[cs.owner])
    # One row per period (slot-major), so each period of every customer is one contiguous row.
    grid = np.bincount(slot[keep] * len(index) + owner[keep], weights=as_floats(cs.amount[keep], scale),
                       minlength=len(index) * width).reshape(width, len(index))
    p = periods[index]
    total = np.zeros(len(index))
    for row in grid:  # period by period: the reference's left-to-right sums, not np.sum's pairwise ones
        total += row
    active = np.count_nonzero(grid, axis=0)
    mean, mean_nz = total / p, total / np.maximum(active, 1)
    spread, spread_nz = np.zeros(len(index)), np.zeros(len(index))
    for j, row in enumerate(grid):  # row by row: also keeps each step's temporaries in the cache
        spread += np.where(j < p, squares(row - mean), 0.0)
        spread_nz += np.where(row != 0, squares(row - mean_nz), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean == 0, 0.0, np.sqrt(spread / p) / mean)
        cv_nz = np.where(mean_nz == 0, 0.0, np.sqrt(spread_nz / np.maximum(active, 1)) / mean_nz)
    found = active > 0
    return Variations(index[found], p[found], active[found], cv[found], p[found] / active[found],
                      squares(cv_nz[found]))


def xyz_codes(v: Variations, config: XyzConfig) -> tuple[Ints | None, tuple[float, float] | None]:
    """XYZ codes (0 X, 1 Y, 2 Z) of the customers of ``v`` and the cut-offs, as xyz.xyz_classes decides them."""
    cutoffs: tuple[float, float] | None = config.textbook
    if config.mode is XyzMode.ADAPTIVE:
        ordered = np.sort(v.cv)
        low, high = quantile_of(ordered, config.quantiles[0]), quantile_of(ordered, config.quantiles[1])
        cutoffs = None if low is None or high is None else (low, high)
    if cutoffs is None:
        return None, None
    return np.where(v.cv <= cutoffs[0], 0, np.where(v.cv <= cutoffs[1], 1, 2)), cutoffs


def _positions(values: npt.NDArray[np.generic], bounds: tuple[float, ...] | None, higher_is_better: bool) -> Floats:
    """rfm._positions of every value."""
    if bounds is not None:
        edges = np.array(bounds, dtype=np.float64)
        if higher_is_better:
            return np.asarray(1.5 + np.searchsorted(edges, values, side="right"), dtype=np.float64)
        return np.asarray(5.5 - np.searchsorted(edges, values, side="left"), dtype=np.float64)
    ordered, n = np.sort(values), len(values)
    if higher_is_better:
        return 1 + 5 * np.searchsorted(ordered, values, side="left") / n
    return 1 + 5 * (n - np.searchsorted(ordered, values, side="right")) / n


SEGMENTS = tuple(Segment)
# SEGMENT_CODES[r, f] is the index in SEGMENTS of SEGMENT_MAP[r, f] (row and column 0 unused).
SEGMENT_CODES = np.array([[0] * 6] + [[0] + [SEGMENTS.index(SEGMENT_MAP[r, f]) for f in range(1, 6)]
                                      for r in range(1, 6)], dtype=np.int64)


@dataclass(frozen=True)
class Rfm:
    """Recency days, R/F/M positions and segment codes (indexes into SEGMENTS) of every customer."""

    recency: Ints
    r_position: Floats
    f_position: Floats
    m_position: Floats
    segment: Ints


def rfm_of(cs: Customers, as_of: date, thresholds: RfmThresholds, scale: int) -> Rfm:
    """rfm.rfm_scores' numbers for every customer."""
    recency = (as_of - EPOCH).days - cs.last
    r_pos = _positions(recency, thresholds.recency_days, higher_is_better=False)
    f_pos = _positions(cs.purchases, thresholds.frequency, higher_is_better=True)
    m_pos = _positions(as_floats(cs.revenue, scale), thresholds.monetary, higher_is_better=True)
    return Rfm(recency, r_pos, f_pos, m_pos, SEGMENT_CODES[r_pos.astype(np.int64), f_pos.astype(np.int64)])
