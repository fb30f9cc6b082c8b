"""The money questions per segment: the base's margin rate, ROI per client and the minimum profitable purchase
(cost / margin rate, else A's 10th percentile when above C's median, else unknown with the reasons), the page
answers built from a stored result, and the check-size chart's geometry; every number worked out by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.domain.analytics.groups import CheckSizes, check_sizes, roi
from service.domain.analytics.profitability import (
    Basis,
    MinimumPurchase,
    Why,
    margin_rate,
    minimum_purchase,
    total_margin,
)
from service.domain.analytics.purchases import Purchase, histories
from service.domain.analytics.report import Analysis, AnalyticsConfig, analyze
from service.services.analytics.pages import segment_answers
from service.services.analytics.results import analysis_json
from service.web import analytics_charts as charts

D = Decimal
AS_OF = date(2026, 12, 31)


def sizes(name: str, p10: float, p50: float, n: int = 10) -> CheckSizes:
    return CheckSizes(name, n, {0.1: p10, 0.25: p10, 0.5: p50, 0.75: p50, 0.9: p50})


A = sizes("A", 120.0, 300.0)
C = sizes("C", 10.0, 40.0)


def test_total_margin_needs_every_non_empty_group_known() -> None:
    assert total_margin([(2, D(30)), (0, None), (3, D(10))]) == D(90)  # 2 x 30 + 3 x 10; the empty group is skipped
    assert total_margin([(2, D(30)), (1, None)]) is None
    assert total_margin([]) == D(0)


def test_margin_rate_is_margin_over_revenue_when_both_are_usable() -> None:
    assert margin_rate(D(90), D(300)) == pytest.approx(0.3)
    assert margin_rate(D(-30), D(300)) == pytest.approx(-0.1)
    assert margin_rate(None, D(300)) is None
    assert margin_rate(D(5), D(0)) is None and margin_rate(D(5), D(-1)) is None


def test_roi_is_margin_per_client_over_the_acquisition_cost() -> None:
    assert roi(D(50), D(20)) == pytest.approx(2.5)
    assert roi(D(-10), D(20)) == pytest.approx(-0.5)
    assert roi(None, D(20)) is None and roi(D(50), None) is None and roi(D(50), D(0)) is None


def test_with_a_cost_and_a_margin_the_minimum_is_the_check_whose_margin_pays_the_cost() -> None:
    found = minimum_purchase(A, C, 0.25, D(30))
    assert found == MinimumPurchase(120.0, Basis.COST, (), 0.25, D(30), 120.0, 40.0)  # 30 / 0.25
    assert minimum_purchase(None, None, 0.4, D(10)).value == pytest.approx(25.0)  # check sizes are not needed


def test_without_a_cost_or_a_margin_the_minimum_is_a_floor_when_it_is_above_c_median() -> None:
    no_cost = minimum_purchase(A, C, 0.25, None)
    assert (no_cost.value, no_cost.basis, no_cost.reasons) == (120.0, Basis.A_FLOOR, (Why.NO_COST,))
    no_margin = minimum_purchase(A, C, None, D(30))
    assert (no_margin.value, no_margin.basis, no_margin.reasons) == (120.0, Basis.A_FLOOR, (Why.MARGIN_UNKNOWN,))
    neither = minimum_purchase(A, C, None, None)
    assert neither.reasons == (Why.NO_COST, Why.MARGIN_UNKNOWN) and neither.value == 120.0
    assert minimum_purchase(A, C, 0.25, D(0)).reasons == (Why.NO_COST,)  # a zero cost is no cost


def test_the_minimum_is_unknown_when_check_size_does_not_separate_a_from_c() -> None:
    overlap = minimum_purchase(sizes("A", 40.0, 300.0), C, None, None)  # A's p10 40 == C's median 40
    assert (overlap.value, overlap.basis) == (None, Basis.UNKNOWN)
    assert overlap.reasons == (Why.NO_COST, Why.MARGIN_UNKNOWN, Why.NO_SEPARATION)
    assert (overlap.a_floor, overlap.c_median) == (40.0, 40.0)
    assert minimum_purchase(sizes("A", 41.0, 300.0), C, None, None).value == 41.0  # just above: separates


def test_the_minimum_is_unknown_without_checks_or_with_a_margin_that_pays_nothing() -> None:
    assert minimum_purchase(None, C, None, D(5)).reasons == (Why.MARGIN_UNKNOWN, Why.NO_CHECKS)
    assert minimum_purchase(sizes("A", 1.0, 1.0, n=0), C, 0.3, None).reasons == (Why.NO_COST, Why.NO_CHECKS)
    assert minimum_purchase(A, sizes("C", 1.0, 1.0, n=0), 0.3, None).basis is Basis.UNKNOWN
    for rate in (0.0, -0.2):
        found = minimum_purchase(A, C, rate, D(30))
        assert (found.value, found.basis, found.reasons) == (None, Basis.UNKNOWN, (Why.MARGIN_NOT_POSITIVE,))


def test_the_a_floor_comes_from_the_check_size_percentiles() -> None:
    day = AS_OF - timedelta(days=3)
    purchases = [Purchase("a", D(x), "EUR", day) for x in (100, 200, 300, 400, 500)]
    purchases += [Purchase("c", D(x), "EUR", day) for x in (10, 20, 30)]
    found = histories(purchases)
    a, c = check_sizes("A", ["a"], found), check_sizes("C", ["c"], found)
    # A's p10: rank 0.4 between 100 and 200 -> 140; C's median: 20.
    result = minimum_purchase(a, c, None, None)
    assert (result.a_floor, result.c_median, result.value) == (pytest.approx(140.0), 20.0, pytest.approx(140.0))


def _stored() -> dict[str, object]:
    checks = {"A": {"n": 5, "quantiles": {"p10": 140.0, "p25": 200.0, "p50": 300.0, "p75": 400.0, "p90": 460.0}},
              "C": {"n": 3, "quantiles": {"p10": 12.0, "p25": 15.0, "p50": 20.0, "p75": 25.0, "p90": 28.0}}}
    segments = [{"name": "Champions", "customers": 2, "revenue": 500.0, "purchases_per_year": 12.0,
                 "margin_per_customer": 100.0, "roi": None},
                {"name": "Lost", "customers": 3, "revenue": 150.0, "purchases_per_year": 0.5,
                 "margin_per_customer": 10.0, "roi": None},
                {"name": "New", "customers": 0, "revenue": 0.0, "purchases_per_year": None,
                 "margin_per_customer": None, "roi": None}]
    matrix = [{"name": "AX", "customers": 2, "revenue": 500.0, "purchases_per_year": 12.0,
               "margin_per_customer": 100.0, "roi": None}]
    return {"segments": segments, "matrix": matrix, "check_sizes": checks}


def test_segment_answers_per_row_and_the_minimum_from_a_stored_result() -> None:
    found = segment_answers(_stored(), D(50))
    champions, lost, ax = found["rows"]["Champions"], found["rows"]["Lost"], found["rows"]["AX"]
    assert champions == {"customers": 2, "pay_per_client": 250.0, "purchases_per_year": 12.0, "margin_known": True,
                         "margin_per_customer": 100.0, "roi": 2.0}  # 500 / 2; 100 / 50
    assert (lost["pay_per_client"], lost["roi"]) == (50.0, pytest.approx(0.2))
    assert ax["roi"] == 2.0  # cells get their ROI too, though the stored matrix has none
    assert found["rows"]["New"]["pay_per_client"] is None
    rate = (2 * 100 + 3 * 10) / 650  # margin 230 of revenue 650
    assert found["margin_known"] and found["margin_rate"] == pytest.approx(rate) and found["cost"] == 50.0
    assert found["minimum"]["basis"] == "cost" and found["minimum"]["value"] == pytest.approx(50 / rate)
    assert (found["minimum"]["a_floor"], found["minimum"]["c_median"]) == (140.0, 20.0)


def test_segment_answers_without_a_known_margin_say_so_and_fall_back_to_the_a_floor() -> None:
    stored = _stored()
    stored["segments"][1]["margin_per_customer"] = None  # type: ignore[index]
    found = segment_answers(stored, D(50))
    assert not found["margin_known"] and found["margin_rate"] is None
    assert found["rows"]["Lost"]["margin_known"] is False and found["rows"]["Lost"]["roi"] is None
    assert found["rows"]["Champions"]["roi"] == 2.0  # a group whose margin is known keeps its ROI
    assert found["minimum"] == {"value": 140.0, "basis": "a_floor", "reasons": ["margin_unknown"],
                                "margin_rate": None, "a_floor": 140.0, "c_median": 20.0}
    assert segment_answers(_stored(), None)["rows"]["Champions"]["roi"] is None


def test_segment_answers_agree_with_the_report_on_its_own_data() -> None:
    # 4 customers with a 25 % margin on every purchase; cost 10 per client -> minimum 10 / 0.25 = 40.
    purchases = [Purchase(f"c{i}", D(40 * (i + 1)), "EUR", AS_OF - timedelta(days=30 * k), D(10 * (i + 1)))
                 for i in range(4) for k in range(i + 1)]
    report = analyze(purchases, AS_OF, AnalyticsConfig(min_customers=1, min_months=0))
    analysis = report.results["EUR"]
    assert isinstance(analysis, Analysis)
    found = segment_answers(analysis_json(analysis), D(10))
    revenue = sum(p.amount for p in purchases)  # 40 + 2x80 + 3x120 + 4x160 = 1200
    assert revenue == D(1200) and found["margin_rate"] == pytest.approx(0.25)
    assert found["minimum"]["value"] == pytest.approx(40.0)
    for g in analysis.segments.values():
        row = found["rows"][g.name]
        if g.customers:
            assert row["pay_per_client"] == pytest.approx(float(g.revenue) / g.customers)
            assert row["roi"] == pytest.approx(float(g.margin_per_customer or 0) / 10)


def test_the_check_size_chart_places_the_quantiles_and_the_minimum_on_one_axis() -> None:
    stored = _stored()["check_sizes"]
    chart = charts.check_size_chart(stored, 100.0)  # type: ignore[arg-type]
    assert chart is not None and chart.log  # 12 .. 460 spans more than 10x
    a, c = chart.boxes
    assert (a.name, a.n, c.name, c.n) == ("A", 5, "C", 3)
    assert a.values == (140.0, 200.0, 300.0, 400.0, 460.0)
    # log axis from 10 to 1000: 100 sits in the middle, 140 at log10(1.4) / 2 of the width past it.
    middle = charts.CHECK_LEFT + charts.CHECK_PLOT / 2
    assert chart.marker_x == pytest.approx(middle)
    assert a.xs[0] == pytest.approx(middle + math.log10(1.4) / 2 * charts.CHECK_PLOT)
    assert all(x1 <= x2 for x1, x2 in zip(a.xs, a.xs[1:], strict=False)) and c.xs[4] < a.xs[0]
    assert chart.ticks[0] == (10.0, pytest.approx(charts.CHECK_LEFT))


def test_the_check_size_chart_is_linear_for_close_values_and_absent_without_checks() -> None:
    close = {"A": {"n": 2, "quantiles": {"p10": 50.0, "p25": 60.0, "p50": 70.0, "p75": 80.0, "p90": 90.0}}}
    chart = charts.check_size_chart(close, None)
    assert chart is not None and not chart.log and chart.marker_x is None and len(chart.boxes) == 1
    # 0 .. 90 in steps of 20 -> axis 0 .. 100: 50 is at half the width.
    assert chart.boxes[0].xs[0] == pytest.approx(charts.CHECK_LEFT + charts.CHECK_PLOT / 2)
    assert [t for t, _ in chart.ticks] == [0, 20, 40, 60, 80, 100]
    assert charts.check_size_chart({}, 5.0) is None
    assert charts.check_size_chart({"A": {"n": 0, "quantiles": {}}}, None) is None
