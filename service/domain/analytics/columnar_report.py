"""report.analyze over columns: the same numbers, computed with numpy (columnar.py) from arrays the database load
fills directly, without a Purchase object per row. Per-customer results stay arrays (ColumnarAnalysis); the
reference's per-customer objects (RfmScore, Variation, the class and label dicts) are built only on demand, by
``ColumnarReport.report()`` (the same AnalyticsReport as report.analyze, which the tests compare it with:
tests/unit/test_analytics_columnar.py) or ``ColumnarAnalysis.score()`` for one customer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from service.domain.analytics.abc import CLASSES, AbcResult, ClassRow
from service.domain.analytics.columnar import (
    EPOCH,
    SEGMENTS,
    Bools,
    Columns,
    Customers,
    Floats,
    Ints,
    Variations,
    abc_codes,
    as_floats,
    check_sums,
    customers_of,
    quantile_of,
    rfm_of,
    tenure_years,
    to_decimal,
    variations,
    xyz_codes,
)
from service.domain.analytics.floors import NotEnoughData, months_between
from service.domain.analytics.groups import CHECK_QUANTILES, CheckSizes, GroupStats, roi
from service.domain.analytics.matrix import ABC_ONLY, CELLS, Matrix
from service.domain.analytics.purchases import AnalyticsError
from service.domain.analytics.report import AbcBasis, Analysis, AnalyticsConfig, AnalyticsReport
from service.domain.analytics.rfm import RfmScore, Segment
from service.domain.analytics.xyz import Variation, XyzMode, XyzResult

DEFAULT_CONFIG = AnalyticsConfig()
LABELS = CELLS + ABC_ONLY


@dataclass(frozen=True, eq=False)
class ColumnarAnalysis:
    """report.Analysis with every per-customer result as an array over the customers in str-id order (``ids``,
    integer ``keys``): recency days, purchases, revenue (units of 10^-scale), R/F/M positions (the score is the
    integer part), segment (index into SEGMENTS), ABC class (0 A, 1 B, 2 C, -1 not classed: margin unknown), XYZ
    class (0 X, 1 Y, 2 Z, -1 none), matrix cell (index into LABELS, -1 none) and the XYZ variations; the small
    tables are built as in the reference."""

    currency: str
    customers: int
    unclassified: int
    scale: int
    ids: list[str]
    keys: Ints
    recency: Ints
    purchases: Ints
    revenue: Ints
    r_position: Floats
    f_position: Floats
    m_position: Floats
    segment: Ints
    abc: Ints
    xyz: Ints
    cell: Ints
    variations: Variations
    xyz_mode: XyzMode
    cutoffs: tuple[float, float] | None
    abc_rows: tuple[ClassRow, ...]
    abc_total: Decimal
    segments: dict[Segment, GroupStats]
    cells: dict[str, GroupStats]
    check_sizes: dict[str, CheckSizes]

    def scores(self) -> Ints:
        """R, F and M scores of every customer as a 3-column array."""
        return np.stack([self.r_position, self.f_position, self.m_position], axis=1).astype(np.int64)

    def score(self, i: int) -> RfmScore:
        """The RfmScore of the ``i``-th customer."""
        r, f = float(self.r_position[i]), float(self.f_position[i])
        return RfmScore(int(self.recency[i]), int(self.purchases[i]), to_decimal(int(self.revenue[i]), self.scale),
                        int(r), int(f), int(self.m_position[i]), r, f, SEGMENTS[int(self.segment[i])])

    def analysis(self) -> Analysis:
        """The reference's Analysis, per-customer objects included."""
        ids, v = self.ids, self.variations
        where = np.flatnonzero(self.abc >= 0).tolist()
        classed = [ids[i] for i in where]
        abc = AbcResult(dict(zip(classed, [CLASSES[c] for c in self.abc[where].tolist()], strict=True)),
                        self.abc_rows, self.abc_total)
        found = [ids[i] for i in v.index.tolist()]
        variation = {cid: Variation(*row) for cid, row in zip(found, zip(
            v.periods.tolist(), v.active.tolist(), v.cv.tolist(), v.adi.tolist(), v.cv2.tolist(), strict=True),
            strict=True)}
        xyz_index = np.flatnonzero(self.xyz >= 0)
        classes = dict(zip([ids[i] for i in xyz_index.tolist()], ["XYZ"[c] for c in self.xyz[xyz_index].tolist()],
                           strict=True))
        xyz = XyzResult(classes, variation, self.cutoffs, self.xyz_mode, frozenset(classed) - frozenset(found))
        labels = dict(zip(classed, [LABELS[c] for c in self.cell[where].tolist()], strict=True))
        matrix = Matrix({c: self.cells[c] for c in CELLS}, {c: self.cells[c] for c in ABC_ONLY}, labels)
        r_pos, f_pos, m_pos = self.r_position.tolist(), self.f_position.tolist(), self.m_position.tolist()
        rfm = {cid: RfmScore(days, count, to_decimal(money, self.scale), int(r), int(f), int(m), r, f, SEGMENTS[g])
               for cid, days, count, money, r, f, m, g in zip(
                   ids, self.recency.tolist(), self.purchases.tolist(), self.revenue.tolist(), r_pos, f_pos, m_pos,
                   self.segment.tolist(), strict=True)}
        return Analysis(self.currency, self.customers, abc, xyz, matrix, rfm, self.segments, self.check_sizes,
                        self.unclassified)


@dataclass(frozen=True)
class ColumnarReport:
    """report.AnalyticsReport with ColumnarAnalysis results."""

    as_of: date
    converted: bool
    base: str | None
    results: dict[str, ColumnarAnalysis | NotEnoughData]

    def report(self) -> AnalyticsReport:
        """The reference's AnalyticsReport (every per-customer object built)."""
        return AnalyticsReport(self.as_of, self.converted, self.base, {
            c: r if isinstance(r, NotEnoughData) else r.analysis() for c, r in self.results.items()})


def analyze_columns(groups: Mapping[str, Columns], as_of: date, config: AnalyticsConfig = DEFAULT_CONFIG, *,
                    rates: Mapping[str, Decimal] | None = None, base: str | None = None) -> ColumnarReport:
    """report.analyze over purchases given per currency as columns (the same numbers, see the module doc).
    AnalyticsError when the rate table misses a currency or the amounts overflow 64-bit sums."""
    if rates is None:
        return ColumnarReport(as_of, False, None, {
            currency: analyze_one_columns(currency, groups[currency], as_of, config)
            for currency in sorted(c for c, cols in groups.items() if len(cols))})
    combined = convert(groups, rates, base)
    return ColumnarReport(as_of, True, base, {str(base): analyze_one_columns(str(base), combined, as_of, config)})


def convert(groups: Mapping[str, Columns], rates: Mapping[str, Decimal], base: str | None) -> Columns:
    """Every currency's columns in ``base`` at ``rates`` (purchases.split_currencies' rule and errors), at a scale
    fine enough to keep each converted amount exact."""
    if not base:
        raise AnalyticsError("a rate table needs a base currency", {"base": ["required with rates"]})
    table = {**rates, base: Decimal(1)}
    bad = {c: r for c, r in table.items() if not r > 0}
    present = {c: cols for c, cols in groups.items() if len(cols)}
    missing = sorted(present.keys() - table.keys())
    if bad or missing:
        errors = {f"rates.{c}": ["must be greater than 0"] for c in bad}
        errors.update({f"rates.{c}": ["missing"] for c in missing})
        raise AnalyticsError("the rate table does not cover every currency", errors)
    # amount x rate = units x digits x 10^(exponent - scale): exact at the finest scale of all of them.
    parts = {c: (cols, table[c].as_tuple()) for c, cols in present.items()}
    scale = max([cols.scale - int(t.exponent) for cols, t in parts.values()], default=0)
    out: list[tuple[Ints, Ints, npt.NDArray[np.int32], Ints, Bools]] = []
    for cols, t in parts.values():
        factor = int("".join(map(str, t.digits)) or "0") * 10 ** (scale - cols.scale + int(t.exponent))
        if factor >= 2 ** 62 or (len(cols) and float(np.abs(cols.amount).max()) * factor >= 2.0 ** 62):
            raise AnalyticsError("amounts too large", {"amount": ["converted amounts must fit in 64 bits"]})
        out.append((cols.customer, cols.amount * factor, cols.day, cols.margin * factor, cols.margin_known))
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return Columns(empty, empty, empty.astype(np.int32), empty, empty.astype(np.bool_), scale)
    customer, amount, day, margin, known = (np.concatenate([o[i] for o in out]) for i in range(5))
    return Columns(customer, amount, day, margin, known, scale)


def analyze_one_columns(currency: str, cols: Columns, as_of: date,
                        config: AnalyticsConfig = DEFAULT_CONFIG) -> ColumnarAnalysis | NotEnoughData:
    """report.analyze_one over the columns of one currency."""
    check_sums(cols.amount)
    check_sums(cols.margin)
    cs = customers_of(cols)
    n = len(cs.ids)
    months = months_between(EPOCH + timedelta(days=int(cs.first.min())), as_of) if n else 0
    if n < config.min_customers or months < config.min_months:
        return NotEnoughData(n, config.min_customers, months, config.min_months)
    s = cols.scale
    chosen = cs.margin_known if config.basis is AbcBasis.MARGIN else np.ones(n, dtype=np.bool_)
    values = cs.margin if config.basis is AbcBasis.MARGIN else cs.revenue
    where = np.flatnonzero(chosen)
    codes, total = abc_codes(values[where], s, config.abc.a, config.abc.b)
    abc_code = np.full(n, -1, dtype=np.int64)
    abc_code[where] = codes
    v = variations(cs, chosen, as_of, config.xyz, s)
    codes_xyz, cutoffs = xyz_codes(v, config.xyz)
    xyz_code = np.full(n, -1, dtype=np.int64)
    cell = np.full(n, -1, dtype=np.int64)
    cell[where] = 9 + codes
    if codes_xyz is not None:
        xyz_code[v.index] = codes_xyz
        cell[v.index] = abc_code[v.index] * 3 + codes_xyz
    rfm = rfm_of(cs, as_of, config.rfm, s)
    tenure = tenure_years(cs.first, as_of)
    segments = _group_stats([x.value for x in SEGMENTS], rfm.segment, np.ones(n, dtype=np.bool_), cs, tenure, s,
                            config.acquisition_cost)
    cells = _group_stats(list(LABELS), cell, chosen, cs, tenure, s, config.acquisition_cost)
    checks = {name: _check_sizes(name, abc_code == code, cs, s) for code, name in ((0, "A"), (2, "C"))}
    return ColumnarAnalysis(
        currency, n, n - len(where), s, cs.ids, cs.keys, rfm.recency, cs.purchases, cs.revenue, rfm.r_position,
        rfm.f_position, rfm.m_position, rfm.segment, abc_code, xyz_code, cell, v, config.xyz.mode, cutoffs,
        _abc_rows(codes, values[where], s), to_decimal(total, s) if total > 0 else Decimal(0),
        {x: segments[x.value] for x in SEGMENTS}, cells, checks)


def _abc_rows(codes: Ints, values: Ints, s: int) -> tuple[ClassRow, ...]:
    count = np.bincount(codes, minlength=3).tolist()
    value = [to_decimal(int(values[(codes == k) & (values > 0)].sum()), s) if count[k] else Decimal(0)
             for k in range(3)]
    customers, summed = len(codes), sum(value, Decimal(0))
    return tuple(ClassRow(name, count[k], count[k] / customers if customers else None, value[k],
                          float(value[k] / summed) if summed else None) for k, name in enumerate(CLASSES))


def _group_stats(names: Sequence[str], label: Ints, scope: Bools, cs: Customers, tenure: np.ndarray, s: int,
                 acquisition_cost: Decimal | None) -> dict[str, GroupStats]:
    """groups.group_stats of every label among the ``scope`` customers (label -1: in no group)."""
    inside = np.flatnonzero(scope)
    code, size = label[inside], len(inside)
    revenue, purchases = cs.revenue[inside], cs.purchases[inside]
    margin, known = cs.margin[inside], cs.margin_known[inside]
    # bincount adds the tenures one by one in str-id order, as group_stats' sum() over members_by's lists does.
    years = np.bincount(code[code >= 0], weights=tenure[inside][code >= 0], minlength=len(names)).tolist()
    total = to_decimal(int(revenue.sum()), s) if size else Decimal(0)
    out = {}
    for k, name in enumerate(names):
        mask = code == k
        n = int(mask.sum())
        money = to_decimal(int(revenue[mask].sum()), s) if n else Decimal(0)
        bought = int(purchases[mask].sum())
        per = None
        if n and bool(known[mask].all()):
            per = to_decimal(int(margin[mask].sum()), s) / n
        out[name] = GroupStats(
            name, n, n / size if size else None, money, float(money / total) if total else None, bought,
            money / bought if bought else None, bought / years[k] if years[k] else None, per,
            roi(per, acquisition_cost))
    return out


def _check_sizes(name: str, members: Bools, cs: Customers, s: int) -> CheckSizes:
    ordered = np.sort(as_floats(cs.amount[members[cs.owner]], s))
    found = {q: quantile_of(ordered, q) for q in CHECK_QUANTILES}
    return CheckSizes(name, len(ordered), {q: x for q, x in found.items() if x is not None})
