"""The articles' money questions of a segment (DOMAIN.md, "Deriving the ideal portrait from data": "ROI per client,
minimal profitable purchase"): the margin rate of the analysed base, ROI per client and the minimum profitable
purchase, read off the margin, the acquisition cost and the check sizes of A vs C customers (groups.check_sizes).

The minimum profitable purchase is, in this order (docs/analytics.md, "Per segment (and per cell)"):

1. **cost**: with an acquisition cost per client and a known, positive margin rate, the smallest check whose
   margin pays back the cost of winning the client: cost / margin rate. A one-off buyer (the articles' "ABC
   only" customer) must cover it in one purchase; below it, a new client who buys once loses money.
2. **A floor**: otherwise, the lower bound of the typical check of class A (its 10th percentile), but only when it
   lies above the median check of class C, i.e. when check size does tell A from C ("who pays a lot"); it is an
   estimate from the data, not a profit calculation.
3. **unknown**, with the reasons, when neither applies; also when the base's margin is not positive (then no
   check pays anything back, whatever its size).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from service.domain.analytics.groups import CheckSizes

A_FLOOR_QUANTILE = 0.1
C_MEDIAN_QUANTILE = 0.5


class Basis(StrEnum):
    """How a minimum profitable purchase was found (see the module doc)."""

    COST = "cost"
    A_FLOOR = "a_floor"
    UNKNOWN = "unknown"


class Why(StrEnum):
    """Why the cost rule or the A floor could not be used."""

    NO_COST = "no_cost"  # no acquisition cost was given
    MARGIN_UNKNOWN = "margin_unknown"  # some analysed customer's margin is unknown
    MARGIN_NOT_POSITIVE = "margin_not_positive"  # the base earns no margin: no check pays the cost back
    NO_CHECKS = "no_checks"  # class A or class C has no purchases
    NO_SEPARATION = "no_separation"  # A's 10th percentile is not above C's median


@dataclass(frozen=True)
class MinimumPurchase:
    """The minimum profitable purchase (``value``, None when unknown), how it was found (``basis``), why the
    better rules could not be used (``reasons``, in rule order), and the numbers behind it: the margin rate, the
    acquisition cost, A's 10th percentile and C's median check."""

    value: float | None
    basis: Basis
    reasons: tuple[Why, ...]
    margin_rate: float | None
    cost: Decimal | None
    a_floor: float | None
    c_median: float | None


def total_margin(groups: Iterable[tuple[int, Decimal | None]]) -> Decimal | None:
    """The margin of every customer of the groups given as (customers, margin per customer); None when a group
    with customers has an unknown margin (a margin is known only when every member's is, as in group_stats)."""
    total = Decimal(0)
    for customers, per_customer in groups:
        if not customers:
            continue
        if per_customer is None:
            return None
        total += per_customer * customers
    return total


def margin_rate(margin: Decimal | None, revenue: Decimal) -> float | None:
    """Margin as a share of revenue; None when the margin is unknown or there is no positive revenue."""
    if margin is None or revenue <= 0:
        return None
    return float(margin / revenue)


def minimum_purchase(a: CheckSizes | None, c: CheckSizes | None, rate: float | None,
                     cost: Decimal | None) -> MinimumPurchase:
    """The minimum profitable purchase from the check sizes of A and C customers, the base's margin ``rate``
    (None: unknown) and the acquisition ``cost`` per client (None: not given), by the rules of the module doc."""
    a_floor = a.quantiles.get(A_FLOOR_QUANTILE) if a is not None and a.n else None
    c_median = c.quantiles.get(C_MEDIAN_QUANTILE) if c is not None and c.n else None
    if rate is not None and rate <= 0:
        return MinimumPurchase(None, Basis.UNKNOWN, (Why.MARGIN_NOT_POSITIVE,), rate, cost, a_floor, c_median)
    reasons: list[Why] = []
    if cost is None or cost <= 0:
        reasons.append(Why.NO_COST)
    if rate is None:
        reasons.append(Why.MARGIN_UNKNOWN)
    if not reasons and cost is not None and rate is not None:
        return MinimumPurchase(float(cost) / rate, Basis.COST, (), rate, cost, a_floor, c_median)
    if a_floor is None or c_median is None:
        reasons.append(Why.NO_CHECKS)
    elif a_floor <= c_median:
        reasons.append(Why.NO_SEPARATION)
    else:
        return MinimumPurchase(a_floor, Basis.A_FLOOR, tuple(reasons), rate, cost, a_floor, c_median)
    return MinimumPurchase(None, Basis.UNKNOWN, tuple(reasons), rate, cost, a_floor, c_median)
