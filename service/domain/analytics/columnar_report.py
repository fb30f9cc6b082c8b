"""report.analyze over columns: the same AnalyticsReport, computed with numpy (columnar.py) from arrays the
database load fills directly, without a Purchase object per row. report.analyze stays the reference that the
tests compare this with (tests/unit/test_analytics_columnar.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    Ints,
    Rfm,
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
from service.domain.analytics.groups import CHECK_QUANTILES, CheckSizes, GroupStats
from service.domain.analytics.matrix import ABC_ONLY, CELLS, Matrix
from service.domain.analytics.purchases import AnalyticsError
from service.domain.analytics.report import AbcBasis, Analysis, AnalyticsConfig, AnalyticsReport
from service.domain.analytics.rfm import RfmScore
from service.domain.analytics.xyz import Variation, XyzResult

DEFAULT_CONFIG = AnalyticsConfig()


def analyze_columns(groups: Mapping[str, Columns], as_of: date, config: AnalyticsConfig = DEFAULT_CONFIG, *,
                    rates: Mapping[str, Decimal] | None = None, base: str | None = None) -> AnalyticsReport:
    """report.analyze over purchases given per currency as columns (the same report, see the module doc).
    AnalyticsError when the rate table misses a currency or the amounts overflow 64-bit sums."""
    if rates is None:
        report = AnalyticsReport(as_of, False, None)
        for currency in sorted(c for c, cols in groups.items() if len(cols)):
            report.results[currency] = analyze_one_columns(currency, groups[currency], as_of, config)
        return report
    combined = convert(groups, rates, base)
    report = AnalyticsReport(as_of, True, base)
    report.results[str(base)] = analyze_one_columns(str(base), combined, as_of, config)
    return report


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
                        config: AnalyticsConfig = DEFAULT_CONFIG) -> Analysis | NotEnoughData:
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
    abc = _abc_result(cs.ids, where, codes, values[where], total, s)
    v = variations(cs, chosen, as_of, config.xyz, s)
    xyz_code, cutoffs = xyz_codes(v, config.xyz)
    xyz = _xyz_result(cs, where, v, xyz_code, cutoffs, config)
    rfm = rfm_of(cs, as_of, config.rfm, s)
    tenure = tenure_years(cs.first, as_of)
    everyone = np.ones(n, dtype=np.bool_)
    segments = _group_stats([x.value for x in SEGMENTS], rfm.segment, everyone, cs, tenure, s,
                            config.acquisition_cost)
    cell = np.full(n, -1, dtype=np.int64)
    cell[where] = 9 + codes
    if xyz_code is not None:
        cell[v.index] = abc_code[v.index] * 3 + xyz_code
    cells = _group_stats(list(CELLS + ABC_ONLY), cell, chosen, cs, tenure, s, None)
    ids = cs.ids
    labels = {ids[i]: (CELLS + ABC_ONLY)[c] for i, c in zip(where.tolist(), cell[where].tolist(), strict=True)}
    matrix = Matrix({c: cells[c] for c in CELLS}, {c: cells[c] for c in ABC_ONLY}, labels)
    scores = _rfm_scores(cs, rfm, s)
    checks = {name: _check_sizes(name, abc_code == code, cs, s) for code, name in ((0, "A"), (2, "C"))}
    return Analysis(currency, n, abc, xyz, matrix, scores, {x: segments[x.value] for x in SEGMENTS}, checks,
                    n - len(where))


def _abc_result(ids: Sequence[str], where: Ints, codes: Ints, values: Ints, total: int, s: int) -> AbcResult:
    count = np.bincount(codes, minlength=3).tolist()
    value = [to_decimal(int(values[(codes == k) & (values > 0)].sum()), s) if count[k] else Decimal(0)
             for k in range(3)]
    customers, summed = len(codes), sum(value, Decimal(0))
    rows = tuple(ClassRow(name, count[k], count[k] / customers if customers else None, value[k],
                          float(value[k] / summed) if summed else None) for k, name in enumerate(CLASSES))
    classes = dict(zip([ids[i] for i in where.tolist()], [CLASSES[c] for c in codes.tolist()], strict=True))
    return AbcResult(classes, rows, to_decimal(total, s) if total > 0 else Decimal(0))


def _xyz_result(cs: Customers, where: Ints, v: Variations, codes: Ints | None, cutoffs: tuple[float, float] | None,
                config: AnalyticsConfig) -> XyzResult:
    found = [cs.ids[i] for i in v.index.tolist()]
    variation = {cid: Variation(*row) for cid, row in zip(found, zip(
        v.periods.tolist(), v.active.tolist(), v.cv.tolist(), v.adi.tolist(), v.cv2.tolist(), strict=True),
        strict=True)}
    classes = {} if codes is None else dict(zip(found, ["XYZ"[c] for c in codes.tolist()], strict=True))
    return XyzResult(classes, variation, cutoffs, config.xyz.mode,
                     frozenset(cs.ids[i] for i in where.tolist()) - frozenset(found))


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
            float(per / acquisition_cost) if per is not None and acquisition_cost else None)
    return out


def _rfm_scores(cs: Customers, rfm: Rfm, s: int) -> dict[str, RfmScore]:
    r_pos, f_pos = rfm.r_position.tolist(), rfm.f_position.tolist()
    m_pos = rfm.m_position.tolist()
    segments = [SEGMENTS[c] for c in rfm.segment.tolist()]
    return {cid: RfmScore(days, count, to_decimal(money, s), int(r), int(f), int(m), r, f, segment)
            for cid, days, count, money, r, f, m, segment in zip(
                cs.ids, rfm.recency.tolist(), cs.purchases.tolist(), cs.revenue.tolist(), r_pos, f_pos, m_pos,
                segments, strict=True)}


def _check_sizes(name: str, members: Bools, cs: Customers, s: int) -> CheckSizes:
    ordered = np.sort(as_floats(cs.amount[members[cs.owner]], s))
    found = {q: quantile_of(ordered, q) for q in CHECK_QUANTILES}
    return CheckSizes(name, len(ordered), {q: x for q, x in found.items() if x is not None})
