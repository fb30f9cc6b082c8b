"""XYZ analysis: how regularly a customer buys, as the coefficient of variation (population standard deviation /
mean) of the amounts per period, and the Syntetos-Boylan demand class (DOMAIN.md "XYZ analysis"; reference
scoring-and-personas.md §3.2-3.3).

Periods are calendar months (or ``period_months``-month blocks) counted from the month of each customer's first
purchase, over ``horizon_months`` (24 by default) and never past ``as_of``'s month; months without a purchase count
as zero. A customer needs ``min_purchases`` purchases and ``min_periods`` periods, else it has no XYZ class (ABC
only, as the articles say for one-off buyers). Classes by value cut-offs (textbook X <= 10 %, Y <= 25 %) or, the
default, adaptive ones: X up to the 30th percentile of the CVs, Y up to the 80th (Simla's 30/50/20 proportions),
equal CVs always in the same class.

Syntetos-Boylan: ADI = periods / periods with a purchase, CV² over the non-zero period amounts only; smooth (ADI <
1.32, CV² < 0.49), erratic (ADI < 1.32, CV² >= 0.49), intermittent (ADI >= 1.32, CV² < 0.49), lumpy (both above).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from service.domain.analytics.purchases import AnalyticsError, History
from service.domain.report_math import quantile

ADI_CUT = 1.32
CV2_CUT = 0.49


class XyzMode(StrEnum):
    """Value cut-offs from the textbook, or cut-offs at quantiles of the observed CVs (the default)."""

    TEXTBOOK = "textbook"
    ADAPTIVE = "adaptive"


class DemandClass(StrEnum):
    """The Syntetos-Boylan class of a demand series."""

    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"


@dataclass(frozen=True)
class XyzConfig:
    """Period length, horizon, minimum history and how CVs become X, Y and Z (see the module doc)."""

    period_months: int = 1
    horizon_months: int = 24
    min_purchases: int = 2
    min_periods: int = 6
    mode: XyzMode = XyzMode.ADAPTIVE
    textbook: tuple[float, float] = (0.10, 0.25)
    quantiles: tuple[float, float] = (0.30, 0.80)

    def __post_init__(self) -> None:
        problems = {}
        if not 1 <= self.period_months <= self.horizon_months:
            problems["period_months"] = ["must be from 1 to horizon_months"]
        if self.min_purchases < 1 or self.min_periods < 2:
            problems["min_purchases"] = ["min_purchases must be >= 1 and min_periods >= 2"]
        if not 0 <= self.textbook[0] <= self.textbook[1] or not 0 <= self.quantiles[0] <= self.quantiles[1] <= 1:
            problems["cutoffs"] = ["must be ascending (quantiles within 0..1)"]
        if problems:
            raise AnalyticsError("invalid XYZ settings", problems)


@dataclass(frozen=True)
class Variation:
    """One customer's regularity: per-period amounts, their CV, ADI and the CV² of the non-zero amounts."""

    periods: int
    active_periods: int
    cv: float
    adi: float
    cv2_nonzero: float

    @property
    def demand(self) -> DemandClass:
        """The Syntetos-Boylan class (ADI 1.32, CV² 0.49)."""
        if self.adi < ADI_CUT:
            return DemandClass.SMOOTH if self.cv2_nonzero < CV2_CUT else DemandClass.ERRATIC
        return DemandClass.INTERMITTENT if self.cv2_nonzero < CV2_CUT else DemandClass.LUMPY


@dataclass(frozen=True)
class XyzResult:
    """The XYZ class and variation of each eligible customer, the CV cut-offs used, and who got ABC only."""

    classes: dict[str, str]
    variation: dict[str, Variation]
    cutoffs: tuple[float, float] | None
    mode: XyzMode
    abc_only: frozenset[str]


def _cv(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    if mean == 0:
        return 0.0
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) / mean


def variation(history: History, as_of: date, config: XyzConfig = XyzConfig()) -> Variation | None:
    """The per-period variation of one customer, or None when it has too few purchases or periods."""
    if history.purchases < config.min_purchases:
        return None
    start = history.first.year * 12 + history.first.month - 1
    span = min(config.horizon_months, as_of.year * 12 + as_of.month - start)
    periods = span // config.period_months
    if periods < config.min_periods:
        return None
    amounts = [0.0] * periods
    for at, amount in history.entries:
        slot = (at.year * 12 + at.month - 1 - start) // config.period_months
        if slot >= periods:
            break  # entries are in date order: the rest are past the horizon
        amounts[slot] += float(amount)
    nonzero = [a for a in amounts if a != 0]
    if not nonzero:
        return None
    return Variation(periods, len(nonzero), _cv(amounts), periods / len(nonzero), _cv(nonzero) ** 2)


def xyz_classes(histories: Mapping[str, History], as_of: date, config: XyzConfig = XyzConfig()) -> XyzResult:
    """Class every customer with enough history X, Y or Z (see the module doc); the others are ``abc_only``."""
    found: dict[str, Variation] = {}
    for cid, h in histories.items():
        v = variation(h, as_of, config)
        if v is not None:
            found[cid] = v
    cutoffs: tuple[float, float] | None = config.textbook
    if config.mode is XyzMode.ADAPTIVE:
        cvs = [v.cv for v in found.values()]
        low, high = quantile(cvs, config.quantiles[0]), quantile(cvs, config.quantiles[1])
        cutoffs = None if low is None or high is None else (low, high)
    classes = {}
    if cutoffs is not None:
        x, y = cutoffs
        classes = {cid: "X" if v.cv <= x else "Y" if v.cv <= y else "Z" for cid, v in found.items()}
    return XyzResult(classes, found, cutoffs, config.mode, frozenset(histories.keys() - found.keys()))
