"""RFM scores, the segment map, the hysteresis, per-group statistics, the data floor, currencies and the full
report, on small bases whose numbers are worked out by hand in each test."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.domain.analytics.floors import NotEnoughData, check_floor, months_between
from service.domain.analytics.groups import check_sizes, group_stats
from service.domain.analytics.purchases import AnalyticsError, Purchase, histories, split_currencies
from service.domain.analytics.report import AbcBasis, Analysis, AnalyticsConfig, analyze
from service.domain.analytics.rfm import SEGMENT_MAP, RfmScore, RfmThresholds, Segment, next_segment, rfm_scores

D = Decimal
AS_OF = date(2026, 12, 31)


def buy(cid: str, amount: str, days_ago: int, currency: str = "EUR", margin: str | None = None) -> Purchase:
    return Purchase(cid, D(amount), currency, AS_OF - timedelta(days=days_ago), None if margin is None else D(margin))


def test_quintile_scores_count_the_customers_with_a_strictly_worse_value() -> None:
    # Five customers with distinct values: each value is its own quintile.
    purchases = [buy(f"c{i}", str(10 * (i + 1)), days_ago=100 - 20 * i) for i in range(5)]
    purchases += [buy("c4", "1", days_ago=1) for _ in range(3)] + [buy("c3", "1", days_ago=50)]
    scores = rfm_scores(histories(purchases), AS_OF)
    # Recency: c0 100 d, c1 80, c2 60, c3 20 (its extra purchase 50 d ago is older), c4 1 -> R 1..5.
    assert [scores[f"c{i}"].r for i in range(5)] == [1, 2, 3, 4, 5]
    # Frequency: 1, 1, 1, 2, 4: three customers tie at 1 (0 worse -> 1), c3 has 3 worse -> 1 + floor(15/5) = 4.
    assert [scores[f"c{i}"].f for i in range(5)] == [1, 1, 1, 4, 5]
    # Monetary 10, 20, 30, 41, 53.
    assert [scores[f"c{i}"].m for i in range(5)] == [1, 2, 3, 4, 5]
    assert scores["c4"] == RfmScore(1, 4, D(53), 5, 5, 5, 1 + 5 * 4 / 5, 1 + 5 * 4 / 5, Segment.CHAMPIONS)
    assert scores["c0"].segment is Segment.LOST
    assert scores["c3"].segment is Segment.LOYAL  # R 4, F 4


def test_equal_values_always_get_equal_scores() -> None:
    purchases = [buy(f"c{i}", "10", days_ago=30) for i in range(7)] + [buy("top", "99", days_ago=1)] * 2
    scores = rfm_scores(histories(purchases), AS_OF)
    assert {(s.r, s.f, s.m) for c, s in scores.items() if c != "top"} == {(1, 1, 1)}
    # top: 7 of 8 worse on every axis -> 1 + floor(35/8) = 5.
    assert (scores["top"].r, scores["top"].f, scores["top"].m) == (5, 5, 5)


def test_fixed_thresholds_replace_the_quintiles() -> None:
    thresholds = RfmThresholds(recency_days=(30, 60, 90, 180), frequency=(2, 3, 5, 8), monetary=(10, 100, 1000, 5000))
    purchases = [buy("a", "100", days_ago=30), buy("b", "9", days_ago=31)] + [buy("c", "1000", days_ago=400)] * 8
    scores = rfm_scores(histories(purchases), AS_OF, thresholds)
    assert (scores["a"].r, scores["a"].f, scores["a"].m) == (5, 1, 3)  # 30 d <= 30; 1 < 2; 100 >= 100
    assert (scores["b"].r, scores["b"].f, scores["b"].m) == (4, 1, 1)
    assert (scores["c"].r, scores["c"].f, scores["c"].m) == (1, 5, 5)  # 8000 total
    assert scores["c"].segment is Segment.CANT_LOSE
    with pytest.raises(AnalyticsError):
        RfmThresholds(frequency=(3, 2, 5, 8))


def test_the_segment_map_covers_every_cell_with_the_reference_segments() -> None:
    assert len(SEGMENT_MAP) == 25 and set(SEGMENT_MAP.values()) == set(Segment)
    expected = {
        (5, 5): Segment.CHAMPIONS, (5, 4): Segment.CHAMPIONS, (4, 4): Segment.LOYAL, (3, 5): Segment.LOYAL,
        (5, 2): Segment.POTENTIAL_LOYALISTS, (4, 3): Segment.POTENTIAL_LOYALISTS, (5, 1): Segment.NEW,
        (4, 1): Segment.PROMISING, (3, 3): Segment.NEED_ATTENTION, (3, 1): Segment.ABOUT_TO_SLEEP,
        (3, 2): Segment.ABOUT_TO_SLEEP, (2, 3): Segment.AT_RISK, (1, 4): Segment.AT_RISK,
        (2, 5): Segment.CANT_LOSE, (1, 5): Segment.CANT_LOSE, (2, 2): Segment.HIBERNATING,
        (2, 1): Segment.HIBERNATING, (1, 2): Segment.HIBERNATING, (1, 1): Segment.LOST,
    }
    assert {cell: SEGMENT_MAP[cell] for cell in expected} == expected


def _score(r_position: float, f_position: float) -> RfmScore:
    r, f = int(r_position), int(f_position)
    return RfmScore(0, 1, D(1), r, f, 1, r_position, f_position, SEGMENT_MAP[r, f])


def test_hysteresis_keeps_the_previous_segment_within_the_margin() -> None:
    # Champions are R 5 x F 4-5; a customer at R 4.8, F 4.5 is Loyal but only 0.2 below the Champions square.
    just_below = _score(4.8, 4.5)
    assert just_below.segment is Segment.LOYAL
    assert next_segment(Segment.CHAMPIONS, just_below.segment, just_below, 0.3) is Segment.CHAMPIONS
    assert next_segment(Segment.CHAMPIONS, just_below.segment, just_below, 0.2) is Segment.LOYAL  # not < margin
    assert next_segment(Segment.CHAMPIONS, just_below.segment, just_below, 0) is Segment.LOYAL
    far = _score(2.5, 4.5)  # At risk, 2.5 below Champions
    assert next_segment(Segment.CHAMPIONS, far.segment, far, 1.0) is Segment.AT_RISK
    assert next_segment(None, far.segment, far, 1.0) is Segment.AT_RISK
    # Potential loyalists span R 4-5 x F 2-3: the distance is to the nearest of its cells.
    near = _score(3.9, 2.5)
    assert near.segment is Segment.ABOUT_TO_SLEEP
    assert next_segment(Segment.POTENTIAL_LOYALISTS, near.segment, near, 0.15) is Segment.POTENTIAL_LOYALISTS


def test_group_stats_and_check_sizes() -> None:
    purchases = [buy("a", "100", 10, margin="30"), buy("a", "300", 375, margin="90"), buy("b", "50", 10, margin="5")]
    found = histories(purchases)
    stats = group_stats("both", ["a", "b"], found, AS_OF, acquisition_cost=D(25))
    assert (stats.customers, stats.revenue, stats.purchases, stats.average_check) == (2, D(450), 3, D(150))
    years = 375 / 365.25 + (365.25 / 12) / 365.25  # a: 375 days; b: 10 days count as one month
    assert stats.purchases_per_year == pytest.approx(3 / years)
    assert stats.margin_per_customer == D(125) / 2
    assert stats.roi == pytest.approx(62.5 / 25)
    only_a = group_stats("a", ["a"], found, AS_OF)
    assert only_a.revenue_share == pytest.approx(400 / 450) and only_a.customer_share == 0.5 and only_a.roi is None
    found_no_margin = histories([*purchases, buy("b", "1", 1)])
    assert group_stats("b", ["b"], found_no_margin, AS_OF).margin_per_customer is None
    empty = group_stats("none", [], found, AS_OF)
    assert (empty.customers, empty.average_check, empty.purchases_per_year, empty.margin_per_customer) == (
        0, None, None, None)
    sizes = check_sizes("a", ["a", "b"], found)
    assert sizes.n == 3 and sizes.quantiles[0.5] == 100.0 and sizes.quantiles[0.25] == 75.0


def test_the_data_floor_names_the_numbers_needed() -> None:
    assert months_between(date(2026, 1, 31), date(2026, 2, 28)) == 0
    assert months_between(date(2025, 12, 31), date(2026, 12, 31)) == 12
    few = histories([buy(f"c{i}", "1", days_ago=400) for i in range(199)])
    floor = check_floor(few, AS_OF)
    assert floor == NotEnoughData(199, 200, 13, 12)
    assert floor is not None and floor.message == "not enough data: 199 customers with purchases, 200 needed"
    young = histories([buy(f"c{i}", "1", days_ago=300) for i in range(200)])
    floor = check_floor(young, AS_OF)
    assert floor is not None and floor.message == "not enough data: 9 months of history, 12 needed"
    assert check_floor(histories([buy(f"c{i}", "1", days_ago=366) for i in range(200)]), AS_OF) is None
    assert check_floor({}, AS_OF) == NotEnoughData(0, 200, 0, 12)


def test_currencies_are_analysed_apart_unless_a_rate_table_converts_them() -> None:
    purchases = [buy("a", "10", 1, "EUR", "2"), buy("b", "100", 1, "RUB"), buy("a", "5", 2, "USD")]
    apart = split_currencies(purchases)
    assert not apart.converted and sorted(apart.groups) == ["EUR", "RUB", "USD"]
    rates = {"RUB": D("0.01"), "USD": D("0.9")}
    joined = split_currencies(purchases, rates, "EUR")
    assert joined.converted and joined.base == "EUR" and list(joined.groups) == ["EUR"]
    found = histories(joined.groups["EUR"])
    assert found["a"].revenue == D("14.5") and found["b"].revenue == D("1.00") and found["a"].margin is None
    with pytest.raises(AnalyticsError) as missing:
        split_currencies(purchases, {"RUB": D("0.01")}, "EUR")
    assert missing.value.errors == {"rates.USD": ["missing"]}
    with pytest.raises(AnalyticsError):
        split_currencies(purchases, {"RUB": D(0), "USD": D(1)}, "EUR")
    with pytest.raises(AnalyticsError):
        split_currencies(purchases, rates)


def test_the_report_runs_every_analysis_per_currency_behind_the_floor() -> None:
    # 250 EUR customers over 2 years; 3 USD customers (below the floor).
    purchases = [buy(f"e{i}", str(10 + i), days_ago=(i * 3) % 700) for i in range(250)]
    purchases += [buy(f"e{i}", "5", days_ago=(i * 7) % 500) for i in range(0, 250, 2)]
    purchases += [buy(f"u{i}", "10", 5, "USD") for i in range(3)]
    report = analyze(purchases, AS_OF, AnalyticsConfig(acquisition_cost=D(1)))
    assert not report.converted and set(report.results) == {"EUR", "USD"}
    usd = report.results["USD"]
    assert isinstance(usd, NotEnoughData) and usd.customers == 3
    eur = report.results["EUR"]
    assert isinstance(eur, Analysis) and eur.customers == 250 and eur.unclassified == 0
    assert sum(s.customers for s in eur.segments.values()) == 250
    assert sum(r.value_share or 0 for r in eur.abc.rows) == pytest.approx(1.0)
    assert sum(g.customers for g in eur.matrix.cells.values()) == len(eur.xyz.classes)
    assert eur.check_sizes["A"].n + eur.check_sizes["C"].n <= len(purchases)
    converted = analyze(purchases, AS_OF, rates={"USD": D(1)}, base="EUR")
    assert converted.converted and isinstance(converted.results["EUR"], Analysis)
    assert converted.results["EUR"].customers == 253


def test_abc_by_margin_leaves_out_customers_without_a_margin() -> None:
    purchases = [buy(f"c{i}", "10", days_ago=400 - i, margin=str(i + 1)) for i in range(210)]
    purchases.append(buy("nomargin", "1000", days_ago=3))
    result = analyze(purchases, AS_OF, AnalyticsConfig(basis=AbcBasis.MARGIN)).results["EUR"]
    assert isinstance(result, Analysis)
    assert result.unclassified == 1 and "nomargin" not in result.abc.classes
    assert result.abc.total == D(sum(range(1, 211)))
    assert result.abc.classes["c209"] == "A" and result.abc.classes["c0"] == "C"
