"""The columnar analyses (numpy, what a portrait run uses) give exactly the reference analyze()'s report: the same
classes, scores, floats to the last bit and Decimal amounts, on generated logs (hypothesis) and on edge cases."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.analytics.abc import AbcCutoffs
from service.domain.analytics.columnar import EPOCH, Columns, columns, minor_units, squares
from service.domain.analytics.columnar_report import analyze_columns
from service.domain.analytics.floors import NotEnoughData
from service.domain.analytics.purchases import AnalyticsError, Purchase
from service.domain.analytics.report import AbcBasis, Analysis, AnalyticsConfig, AnalyticsReport, analyze
from service.domain.analytics.rfm import RfmThresholds
from service.domain.analytics.xyz import XyzConfig, XyzMode

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)
AS_OF = date(2026, 12, 31)
LOW = AnalyticsConfig(min_customers=1, min_months=0, xyz=XyzConfig(min_periods=2))
SCALE = 2


def as_columns(log: Sequence[Purchase]) -> dict[str, Columns]:
    """The log per currency as the database load gives it (integer ids, amounts in cents, days since 1970)."""
    out: dict[str, Columns] = {}
    for currency in {p.currency for p in log}:
        mine = [p for p in log if p.currency == currency]
        out[currency] = columns([int(p.customer_id) for p in mine], [minor_units(p.amount, SCALE) for p in mine],
                                [(p.at - EPOCH).days for p in mine],
                                [None if p.margin is None else minor_units(p.margin, SCALE) for p in mine], SCALE)
    return out


def assert_same(log: Sequence[Purchase], config: AnalyticsConfig, rates: Mapping[str, Decimal] | None = None,
                base: str | None = None) -> AnalyticsReport:
    expected = analyze(log, AS_OF, config, rates=rates, base=base)
    got = analyze_columns(as_columns(log), AS_OF, config, rates=rates, base=base).report()
    assert got.results.keys() == expected.results.keys()
    for currency, result in expected.results.items():
        if isinstance(result, Analysis):  # field by field first: a failure names the analysis that differs
            other = got.results[currency]
            assert isinstance(other, Analysis)
            for name in ("customers", "unclassified", "abc", "xyz", "rfm", "segments", "matrix", "check_sizes"):
                assert getattr(other, name) == getattr(result, name), name
    assert got == expected
    return expected


purchase = st.builds(
    lambda cid, cents, days, currency, margin: Purchase(
        str(cid), Decimal(cents) / 100, currency, AS_OF - timedelta(days=days),
        None if margin is None else Decimal(margin) / 100),
    st.sampled_from([1, 2, 3, 10, 11, 25, 100, 101, 7, 999]), st.integers(0, 500_000) | st.sampled_from([0, 100, 999]),
    st.integers(0, 900) | st.sampled_from([0, 31, 365]), st.sampled_from(["EUR", "EUR", "USD", "RUB"]),
    st.none() | st.integers(-10_000, 100_000))
logs = st.lists(purchase, min_size=1, max_size=120)
configs = st.builds(
    lambda basis, mode, period, thresholds, cost, cutoffs: AnalyticsConfig(
        abc=cutoffs, basis=basis, min_customers=1, min_months=0, acquisition_cost=cost,
        xyz=XyzConfig(period_months=period, min_periods=2, mode=mode, textbook=(0.5, 1.5)),
        rfm=RfmThresholds((7, 30, 90, 365), (1, 2, 3, 5), (10, 100, 1000, 5000)) if thresholds else RfmThresholds()),
    st.sampled_from(AbcBasis), st.sampled_from(XyzMode), st.sampled_from([1, 1, 2, 3]), st.booleans(),
    st.sampled_from([None, Decimal("12.5")]), st.sampled_from([AbcCutoffs(), AbcCutoffs(50, 30, 20)]))


@PROPERTY
@given(logs, configs)
def test_columnar_report_equals_the_reference_on_generated_logs(log: list[Purchase],
                                                                config: AnalyticsConfig) -> None:
    assert_same(log, config)


@PROPERTY
@given(logs, st.sampled_from(["EUR", "USD"]), st.sampled_from([Decimal("0.0123"), Decimal("92.5"), Decimal(3)]))
def test_columnar_report_equals_the_reference_with_a_rate_table(log: list[Purchase], base: str,
                                                                 rate: Decimal) -> None:
    rates = {"EUR": Decimal("1.0875"), "USD": Decimal(1), "RUB": rate}
    assert_same(log, LOW, rates, base)


def bought(cid: int, cents: int, days_ago: int, margin: int | None = None, currency: str = "EUR") -> Purchase:
    return Purchase(str(cid), Decimal(cents) / 100, currency, AS_OF - timedelta(days=days_ago),
                    None if margin is None else Decimal(margin) / 100)


EDGES = {
    "one customer": [bought(5, 1000, d * 30) for d in range(14)],
    "one purchase each": [bought(c, 500 + c, 400 - c) for c in range(30)],
    "ties in amounts and dates": [bought(c, 700, 40 * (c % 3)) for c in range(12) for _ in range(1 + c % 2)],
    "zero amounts": [bought(c, 0 if c % 2 else 300, 60 * c) for c in range(10)] + [bought(1, 0, 5)],
    "every amount zero": [bought(c, 0, 30 * c) for c in range(5) for _ in range(2)],
    "several currencies": [bought(c, 100 * c, 20 * c, currency=("EUR", "USD", "RUB")[c % 3]) for c in range(24)],
    "margins partly missing": [bought(c, 900, 45 * k, margin=None if c % 4 == 0 else 10 * k)
                               for c in range(16) for k in range(3)],
}


@pytest.mark.parametrize("basis", list(AbcBasis))
@pytest.mark.parametrize("name", list(EDGES))
def test_columnar_report_equals_the_reference_on_edge_cases(name: str, basis: AbcBasis) -> None:
    assert_same(EDGES[name], AnalyticsConfig(basis=basis, min_customers=1, min_months=0,
                                             xyz=XyzConfig(min_periods=2)))


def test_below_the_data_floor_both_say_not_enough_data_with_the_same_numbers() -> None:
    report = assert_same([bought(c, 100, c) for c in range(50)], AnalyticsConfig())
    assert report.results["EUR"] == NotEnoughData(50, 200, 1, 12)
    assert analyze_columns({}, AS_OF).results == analyze([], AS_OF).results == {}


def test_a_rate_table_missing_a_currency_fails_with_the_reference_errors() -> None:
    log = [bought(1, 100, 1, currency="USD"), bought(2, 100, 1, currency="GBP")]
    with pytest.raises(AnalyticsError) as expected:
        analyze(log, AS_OF, LOW, rates={"USD": Decimal(0)}, base="EUR")
    with pytest.raises(AnalyticsError) as got:
        analyze_columns(as_columns(log), AS_OF, LOW, rates={"USD": Decimal(0)}, base="EUR")
    assert got.value.errors == expected.value.errors == {"rates.USD": ["must be greater than 0"],
                                                         "rates.GBP": ["missing"]}


def test_a_large_seeded_log_with_the_default_settings_gives_the_same_report() -> None:
    rng = random.Random(15)
    log = [bought(i if i < 600 else int(600 * rng.random() ** 3), max(1, int(rng.lognormvariate(8.5, 1.0))),
                  rng.randrange(730), None if rng.random() < 0.02 else rng.randrange(-500, 5000)) for i in range(8000)]
    report = assert_same(log, AnalyticsConfig())
    result = report.results["EUR"]
    assert isinstance(result, Analysis) and result.xyz.classes and result.customers == 600


def test_squares_are_the_bits_python_computes_for_v_squared() -> None:
    rng = random.Random(2)
    values = [rng.uniform(-1e4, 1e4) * 10 ** rng.randint(-6, 6) for _ in range(200_000)]
    import numpy as np

    assert squares(np.array(values)).tolist() == [v ** 2 for v in values]


def test_amounts_with_more_places_than_the_scale_or_too_large_are_refused() -> None:
    assert minor_units(Decimal("12.34"), 2) == 1234
    with pytest.raises(AnalyticsError):
        minor_units(Decimal("0.001"), 2)
    with pytest.raises(AnalyticsError):
        columns([1], [2 ** 64], [0], [None], 2)
    huge = columns([1, 2], [2 ** 62, 2 ** 62], [0, 1], [None, None], 0)
    with pytest.raises(AnalyticsError):
        analyze_columns({"EUR": huge}, AS_OF, LOW)


def test_the_per_customer_arrays_say_what_the_reference_objects_say() -> None:
    rng = random.Random(7)
    log = [bought(i if i < 300 else int(300 * rng.random() ** 2), rng.randrange(1, 90_000), rng.randrange(700))
           for i in range(3000)]
    expected = analyze(log, AS_OF).results["EUR"]
    got = analyze_columns(as_columns(log), AS_OF).results["EUR"]
    assert isinstance(expected, Analysis) and not isinstance(got, NotEnoughData)
    assert got.ids == sorted(expected.rfm) and got.keys.tolist() == [int(c) for c in got.ids]
    assert [got.score(i) for i in range(len(got.ids))] == [expected.rfm[c] for c in got.ids]
    assert [tuple(s) for s in got.scores().tolist()] == [(expected.rfm[c].r, expected.rfm[c].f, expected.rfm[c].m)
                                                         for c in got.ids]
    assert ["ABC"[k] for k in got.abc.tolist()] == [expected.abc.classes[c] for c in got.ids]
    assert ["-XYZ"[k + 1] for k in got.xyz.tolist()] == [expected.xyz.classes.get(c, "-") for c in got.ids]
    assert {"X", "Y", "Z"} <= set(expected.xyz.classes.values())
