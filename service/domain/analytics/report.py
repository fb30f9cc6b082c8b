"""Every analysis of one purchase log at once, per currency (or in one base currency when a rate table is given),
each behind the data floor: ABC, XYZ, the ABC x XYZ matrix, RFM with its segment table, and the check sizes of A
vs C customers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from service.domain.analytics.abc import AbcCutoffs, AbcResult, abc_classes
from service.domain.analytics.floors import MIN_CUSTOMERS, MIN_MONTHS, NotEnoughData, check_floor
from service.domain.analytics.groups import CheckSizes, GroupStats, check_sizes, group_stats, members_by
from service.domain.analytics.matrix import Matrix, abc_xyz_matrix
from service.domain.analytics.purchases import Purchase, histories, split_currencies
from service.domain.analytics.rfm import RfmScore, RfmThresholds, Segment, rfm_scores
from service.domain.analytics.xyz import XyzConfig, XyzResult, xyz_classes


class AbcBasis(StrEnum):
    """What ABC ranks customers by."""

    REVENUE = "revenue"
    MARGIN = "margin"


@dataclass(frozen=True)
class AnalyticsConfig:
    """The settings of one run (every default is the articles' or the reference's, see docs/analytics.md)."""

    abc: AbcCutoffs = field(default_factory=AbcCutoffs)
    basis: AbcBasis = AbcBasis.REVENUE
    xyz: XyzConfig = field(default_factory=XyzConfig)
    rfm: RfmThresholds = field(default_factory=RfmThresholds)
    min_customers: int = MIN_CUSTOMERS
    min_months: int = MIN_MONTHS
    acquisition_cost: Decimal | None = None


@dataclass(frozen=True)
class Analysis:
    """The analyses of one currency; ``unclassified`` counts customers left out of ABC by margin (margin unknown)."""

    currency: str
    customers: int
    abc: AbcResult
    xyz: XyzResult
    matrix: Matrix
    rfm: dict[str, RfmScore]
    segments: dict[Segment, GroupStats]
    check_sizes: dict[str, CheckSizes]
    unclassified: int = 0


@dataclass(frozen=True)
class AnalyticsReport:
    """One result per currency; ``converted`` says whether a rate table turned every amount into ``base``."""

    as_of: date
    converted: bool
    base: str | None
    results: dict[str, Analysis | NotEnoughData] = field(default_factory=dict)


def analyze(purchases: Iterable[Purchase], as_of: date, config: AnalyticsConfig = AnalyticsConfig(), *,
            rates: Mapping[str, Decimal] | None = None, base: str | None = None) -> AnalyticsReport:
    """Run every analysis per currency as of ``as_of``; a currency below the data floor gets NotEnoughData.
    AnalyticsError when the rate table misses a currency."""
    split = split_currencies(purchases, rates, base)
    report = AnalyticsReport(as_of, split.converted, split.base)
    for currency, items in split.groups.items():
        report.results[currency] = analyze_one(currency, items, as_of, config)
    return report


def analyze_one(currency: str, purchases: Iterable[Purchase], as_of: date,
                config: AnalyticsConfig = AnalyticsConfig()) -> Analysis | NotEnoughData:
    """Every analysis of purchases in one currency, or NotEnoughData below the floor."""
    by_customer = histories(purchases)
    floor = check_floor(by_customer, as_of, min_customers=config.min_customers, min_months=config.min_months)
    if floor is not None:
        return floor
    if config.basis is AbcBasis.MARGIN:
        values = {c: h.margin for c, h in by_customer.items() if h.margin is not None}
    else:
        values = {c: h.revenue for c, h in by_customer.items()}
    abc = abc_classes(values, config.abc)
    xyz = xyz_classes({c: by_customer[c] for c in values}, as_of, config.xyz)
    rfm = rfm_scores(by_customer, as_of, config.rfm)
    segments = members_by({c: s.segment.value for c, s in rfm.items()})
    total = sum([h.revenue for h in by_customer.values()], Decimal(0))
    stats = {s: group_stats(s.value, segments.get(s.value, ()), by_customer, as_of,
                            acquisition_cost=config.acquisition_cost, total=total) for s in Segment}
    classes = members_by(abc.classes)
    checks = {n: check_sizes(n, classes.get(n, ()), by_customer) for n in ("A", "C")}
    matrix = abc_xyz_matrix(abc, xyz, by_customer, as_of, config.acquisition_cost)
    return Analysis(currency, len(by_customer), abc, xyz, matrix, rfm, stats, checks, len(by_customer) - len(values))
