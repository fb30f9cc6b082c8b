"""The articles' questions asked of any group of customers (an RFM segment, an ABC x XYZ cell): how many, how much
they bring, how much a client pays per purchase, how often, the margin and ROI per client where margin is known,
and the spread of check sizes (DOMAIN.md, the end of "Deriving the ideal portrait from data")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from service.domain.analytics.purchases import History, known_sum
from service.domain.report_math import quantile

CHECK_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class GroupStats:
    """One group: customers and revenue with their shares of all analysed customers, average check (revenue /
    purchases), purchases per customer-year (purchases / years since each first purchase, at least a month each),
    and margin per client and ROI (margin per client / acquisition cost) when every member's margin is known."""

    name: str
    customers: int
    customer_share: float | None
    revenue: Decimal
    revenue_share: float | None
    purchases: int
    average_check: Decimal | None
    purchases_per_year: float | None
    margin_per_customer: Decimal | None
    roi: float | None


def roi(margin_per_customer: Decimal | None, acquisition_cost: Decimal | None) -> float | None:
    """ROI per client as the service counts it: margin per client / acquisition cost per client (2.0: a client
    brings back twice what winning it cost); None without a known margin or a positive cost."""
    if margin_per_customer is None or acquisition_cost is None or acquisition_cost <= 0:
        return None
    return float(margin_per_customer / acquisition_cost)


def group_stats(name: str, members: Iterable[str], histories: Mapping[str, History], as_of: date, *,
                acquisition_cost: Decimal | None = None, total: Decimal | None = None) -> GroupStats:
    """The statistics of the customers ``members`` among all ``histories`` (see GroupStats); ``total`` is the
    revenue of all ``histories`` when the caller already has it."""
    chosen = [histories[c] for c in members]
    if total is None:
        total = sum([h.revenue for h in histories.values()], Decimal(0))
    revenue = sum((h.revenue for h in chosen), Decimal(0))
    purchases = sum(h.purchases for h in chosen)
    years = sum(h.tenure_years(as_of) for h in chosen)
    margin_sum = known_sum(h.margin for h in chosen) if chosen else None
    margin = None if margin_sum is None else margin_sum / len(chosen)
    return GroupStats(
        name, len(chosen), len(chosen) / len(histories) if histories else None, revenue,
        float(revenue / total) if total else None, purchases, revenue / purchases if purchases else None,
        purchases / years if years else None, margin, roi(margin, acquisition_cost))


@dataclass(frozen=True)
class CheckSizes:
    """The distribution of purchase amounts of a group: n and the 10/25/50/75/90th percentiles."""

    name: str
    n: int
    quantiles: dict[float, float]


def check_sizes(name: str, members: Iterable[str], histories: Mapping[str, History]) -> CheckSizes:
    """Percentiles of every purchase amount of ``members`` (the minimum profitable purchase is read off A vs C)."""
    amounts = sorted([float(a) for c in members for _, a in histories[c].entries])  # once: quantile re-sorts
    found = {q: quantile(amounts, q) for q in CHECK_QUANTILES}
    return CheckSizes(name, len(amounts), {q: v for q, v in found.items() if v is not None})


def members_by(labels: Mapping[str, str]) -> dict[str, list[str]]:
    """Customers grouped by their label (segment, class or cell), each list in customer order."""
    out: dict[str, list[str]] = {}
    for cid, label in sorted(labels.items()):
        out.setdefault(label, []).append(cid)
    return out
