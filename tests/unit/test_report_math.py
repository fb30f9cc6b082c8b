"""The report arithmetic: Wilson intervals, quantiles, the 20-case floor, the wrong-audience symptom, and
stage conversion counted both ways."""

from __future__ import annotations

import math

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.conversion import Reach, funnel
from service.domain.report_math import MIN_CASES, median, quantile, share, wilson, wrong_audience


def wilson_by_hand(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The textbook Wilson score interval, written out once more for the comparison."""
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


@pytest.mark.parametrize("hits, n, low, high", [
    (8, 10, 0.4902, 0.9433),  # a textbook example (Agresti & Coull, 1998)
    (0, 20, 0.0, 0.1611),
    (20, 20, 0.8389, 1.0),
    (50, 100, 0.4038, 0.5962),
])
def test_the_wilson_interval_matches_published_values(hits: int, n: int, low: float, high: float) -> None:
    rate = wilson(hits, n)
    assert (round(rate.low or 0, 4), round(rate.high or 0, 4)) == (low, high)


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_wilson_interval_holds_the_rate_and_matches_the_formula(case: tuple[int, int]) -> None:
    hits, n = case
    rate = wilson(hits, n)
    low, high = wilson_by_hand(hits, n)
    assert rate.low is not None and rate.high is not None
    assert math.isclose(rate.low, max(0.0, low), abs_tol=1e-12) and math.isclose(rate.high, min(1.0, high),
                                                                                  abs_tol=1e-12)
    assert rate.low <= hits / n <= rate.high


def test_below_twenty_cases_a_rate_is_not_enough_data() -> None:
    assert not wilson(5, MIN_CASES - 1).enough and wilson(5, MIN_CASES).enough
    assert wilson(0, 0).value is None and wilson(0, 0).low is None


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        wilson(3, 2)


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.floats(0, 1))
def test_quantiles_match_numpys_linear_method(values: list[float], q: float) -> None:
    assert math.isclose(quantile(values, q) or 0.0, float(numpy.quantile(values, q)), rel_tol=1e-9, abs_tol=1e-6)


def test_median_and_share_of_nothing_are_none() -> None:
    assert median([]) is None and share(1, 0) is None and median([1, 3, 2, 10]) == 2.5


def test_the_symptom_needs_more_activity_than_the_median_and_a_win_rate_below_with_intervals_apart() -> None:
    team = wilson(300, 1000)  # 30% ± ~3 points
    poor = wilson(2, 60)  # 3%, interval well below the team's
    close = wilson(15, 60)  # 25%, interval overlapping the team's

    assert wrong_audience(120, 80, poor, team)
    assert not wrong_audience(60, 80, poor, team)  # not busier than the median owner
    assert not wrong_audience(120, 80, close, team)
    assert not wrong_audience(120, 80, wilson(0, 5), team)  # too few closed deals to tell


def test_the_funnel_counts_any_as_this_stage_or_a_later_one() -> None:
    counts = funnel([(Reach(2, 2), 1), (Reach(4, 0), 2), (Reach(0, 0), 1)], 5)
    assert counts == [(4, 4), (3, 1), (3, 1), (2, 0), (2, 0)]
