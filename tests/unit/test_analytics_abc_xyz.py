"""ABC, XYZ and the ABC x XYZ matrix on small bases whose numbers are worked out by hand in each test."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from service.domain.analytics.abc import AbcCutoffs, abc_classes
from service.domain.analytics.matrix import ABC_ONLY, CELLS, abc_xyz_matrix
from service.domain.analytics.purchases import AnalyticsError, Purchase, histories
from service.domain.analytics.xyz import DemandClass, Variation, XyzConfig, XyzMode, variation, xyz_classes

D = Decimal
AS_OF = date(2026, 12, 31)


def buy(cid: str, amount: str, at: date, margin: str | None = None) -> Purchase:
    return Purchase(cid, D(amount), "EUR", at, None if margin is None else D(margin))


def test_abc_classes_by_the_cumulative_share_of_the_customers_ranked_above() -> None:
    # Total 100: a=50 (before 0 %), b=25 (before 50 %), c=10 (before 75 %), d=8 (before 85 %), e=5 (before 93 %),
    # f=2 (before 98 %). A while the share before < 80 %, B while < 95 %, C after.
    values = {"a": D(50), "b": D(25), "c": D(10), "d": D(8), "e": D(5), "f": D(2)}
    result = abc_classes(values)
    assert result.classes == {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "C"}
    rows = {r.name: r for r in result.rows}
    assert (rows["A"].customers, rows["A"].value, rows["A"].value_share) == (3, D(85), 0.85)
    assert (rows["B"].customers, rows["B"].value, rows["B"].value_share) == (2, D(13), 0.13)
    assert (rows["C"].customers, rows["C"].value, rows["C"].value_share) == (1, D(2), 0.02)
    assert [r.customer_share for r in result.rows] == [3 / 6, 2 / 6, 1 / 6]
    assert result.total == D(100)


def test_abc_equal_values_share_the_class_of_the_first_of_them() -> None:
    # 40 + 40 + 10 + 10: both 40s start before 80 % (0 % above them) -> A; both 10s have 80 % above -> B.
    result = abc_classes({"w": D(40), "x": D(40), "y": D(10), "z": D(10)})
    assert result.classes == {"w": "A", "x": "A", "y": "B", "z": "B"}


def test_abc_zero_and_negative_values_are_c_and_a_zero_total_makes_everyone_c() -> None:
    result = abc_classes({"a": D(10), "b": D(0), "c": D(-5)})
    assert result.classes == {"a": "A", "b": "C", "c": "C"}
    assert [r.value_share for r in result.rows] == [1.0, 0.0, 0.0]
    empty = abc_classes({"a": D(0), "b": D(0)})
    assert empty.classes == {"a": "C", "b": "C"}
    assert [r.value_share for r in empty.rows] == [None, None, None]
    assert abc_classes({}).rows[0].customer_share is None


def test_abc_cutoffs_are_configurable_and_checked() -> None:
    values = {"a": D(50), "b": D(30), "c": D(20)}
    # 50/30/20: a (0 % above) A, b (50 % above) B since 50 is not < 50, c (80 % above) C since 80 is not < 80.
    assert abc_classes(values, AbcCutoffs(50, 30, 20)).classes == {"a": "A", "b": "B", "c": "C"}
    with pytest.raises(AnalyticsError):
        AbcCutoffs(80, 15, 10)
    with pytest.raises(AnalyticsError):
        AbcCutoffs(100, 0, 0)


def test_histories_sum_each_customer_and_margin_is_unknown_when_one_purchase_lacks_it() -> None:
    found = histories([buy("a", "10", date(2026, 3, 1), "2"), buy("a", "5", date(2026, 1, 1), "1"),
                       buy("b", "7", date(2026, 2, 1), "3"), buy("b", "1", date(2026, 2, 2))])
    assert (found["a"].purchases, found["a"].revenue, found["a"].margin) == (2, D(15), D(3))
    assert (found["a"].first, found["a"].last) == (date(2026, 1, 1), date(2026, 3, 1))
    assert found["a"].entries == ((date(2026, 1, 1), D(5)), (date(2026, 3, 1), D(10)))
    assert found["b"].margin is None


def test_xyz_variation_is_the_population_cv_of_monthly_amounts_from_the_first_purchase() -> None:
    # First purchase 2026-01; as of 2026-06-15 the months Jan..Jun count (6 periods): amounts 10,0,20,0,30,0.
    h = histories([buy("a", "10", date(2026, 1, 5)), buy("a", "20", date(2026, 3, 9)),
                   buy("a", "30", date(2026, 5, 30))])["a"]
    v = variation(h, date(2026, 6, 15))
    assert v is not None
    mean = 60 / 6
    std = math.sqrt(((10 - mean) ** 2 + 3 * mean ** 2 + (20 - mean) ** 2 + (30 - mean) ** 2) / 6)
    assert (v.periods, v.active_periods) == (6, 3)
    assert v.cv == pytest.approx(std / mean)
    assert v.adi == pytest.approx(2.0)
    nz_mean = 20
    assert v.cv2_nonzero == pytest.approx(((100 + 0 + 100) / 3) / nz_mean ** 2)
    assert v.demand is DemandClass.INTERMITTENT  # ADI 2 >= 1.32, CV² 1/6 < 0.49


def test_xyz_needs_the_minimum_purchases_and_periods_and_stops_at_the_horizon() -> None:
    one = histories([buy("a", "10", date(2025, 1, 5))])["a"]
    assert variation(one, AS_OF) is None  # one purchase: ABC only
    recent = histories([buy("b", "10", date(2026, 10, 5)), buy("b", "10", date(2026, 11, 5))])["b"]
    assert variation(recent, AS_OF) is None  # Oct..Dec: 3 periods < 6
    assert variation(recent, AS_OF, XyzConfig(min_periods=3)) is not None
    # Monthly 10 for 30 months: the horizon keeps 24 equal months -> CV 0; a quarterly period gives 8 periods of 30.
    steady = histories([buy("c", "10", date(2024 + m // 12, m % 12 + 1, 1)) for m in range(30)])["c"]
    monthly = variation(steady, AS_OF)
    assert monthly is not None and (monthly.periods, monthly.cv) == (24, 0.0)
    quarterly = variation(steady, AS_OF, XyzConfig(period_months=3))
    assert quarterly is not None and (quarterly.periods, quarterly.cv, quarterly.active_periods) == (8, 0.0, 8)


def test_syntetos_boylan_classes_at_the_adi_and_cv2_cut_offs() -> None:
    assert Variation(12, 12, 0.1, 1.0, 0.1).demand is DemandClass.SMOOTH
    assert Variation(12, 12, 0.9, 1.0, 0.49).demand is DemandClass.ERRATIC
    assert Variation(12, 6, 1.0, 1.32, 0.2).demand is DemandClass.INTERMITTENT
    assert Variation(12, 3, 2.0, 4.0, 0.8).demand is DemandClass.LUMPY


def _monthly(cid: str, amounts: list[int]) -> list[Purchase]:
    return [buy(cid, str(a), date(2026, m + 1, 10)) for m, a in enumerate(amounts) if a]


def test_xyz_textbook_and_adaptive_cut_offs() -> None:
    as_of = date(2026, 6, 30)
    purchases = (_monthly("x", [10, 10, 10, 10, 10, 10]) + _monthly("y", [10, 12, 10, 12, 10, 12])
                 + _monthly("z", [10, 0, 30, 0, 10, 0]) + [buy("one", "99", date(2026, 1, 1))])
    found = histories(purchases)
    textbook = xyz_classes(found, as_of, XyzConfig(mode=XyzMode.TEXTBOOK))
    # x: CV 0; y: mean 11, std 1 -> 0.0909 <= 10 %; z: mean 50/6, large CV.
    assert textbook.classes == {"x": "X", "y": "X", "z": "Z"}
    assert textbook.abc_only == {"one"}
    adaptive = xyz_classes(found, as_of)
    cvs = sorted(v.cv for v in adaptive.variation.values())
    # Quantiles of three CVs by linear interpolation: 30 % -> cvs[0] + 0.6 (cvs[1]-cvs[0]); 80 % -> cvs[1] + 0.6 (...)
    low = cvs[0] + 0.6 * (cvs[1] - cvs[0])
    high = cvs[1] + 0.6 * (cvs[2] - cvs[1])
    assert adaptive.cutoffs == pytest.approx((low, high))
    assert adaptive.classes == {"x": "X", "y": "Y", "z": "Z"}
    assert adaptive.mode is XyzMode.ADAPTIVE


def test_xyz_settings_are_checked() -> None:
    with pytest.raises(AnalyticsError):
        XyzConfig(period_months=0)
    with pytest.raises(AnalyticsError):
        XyzConfig(quantiles=(0.9, 0.2))
    with pytest.raises(AnalyticsError):
        XyzConfig(min_periods=1)


def test_the_matrix_counts_customers_revenue_average_check_and_purchases_per_year() -> None:
    as_of = date(2026, 12, 31)
    # "big" buys 100 every month of 2026 (12 x 100 = 1200), "mid" 50 every other month (6 x 50 = 300),
    # "once" 100 once (ABC only). Total 1600: big A (0 % above), mid A (75 % above), once B (93.75 % above).
    purchases = ([buy("big", "100", date(2026, m, 1)) for m in range(1, 13)]
                 + [buy("mid", "50", date(2026, m, 1)) for m in range(1, 13, 2)]
                 + [buy("once", "100", date(2026, 6, 1))])
    found = histories(purchases)
    abc = abc_classes({c: h.revenue for c, h in found.items()})
    assert abc.classes == {"big": "A", "mid": "A", "once": "B"}
    xyz = xyz_classes(found, as_of, XyzConfig(mode=XyzMode.TEXTBOOK))
    assert xyz.classes == {"big": "X", "mid": "Z"}  # mid alternates 50, 0: CV 1
    matrix = abc_xyz_matrix(abc, xyz, found, as_of)
    assert set(matrix.cells) == set(CELLS) and set(matrix.abc_only) == set(ABC_ONLY)
    ax = matrix.cells["AX"]
    assert (ax.customers, ax.revenue, ax.purchases, ax.average_check) == (1, D(1200), 12, D(100))
    assert ax.customer_share == pytest.approx(1 / 3)
    assert ax.revenue_share == pytest.approx(1200 / 1600)
    years = (as_of - date(2026, 1, 1)).days / 365.25
    assert ax.purchases_per_year == pytest.approx(12 / years)
    assert matrix.cells["AZ"].average_check == D(50)
    assert matrix.abc_only["B-"].customers == 1
    assert matrix.cells["CX"].customers == 0 and matrix.cells["CX"].average_check is None
    shares = [g.customer_share or 0 for g in [*matrix.cells.values(), *matrix.abc_only.values()]]
    assert sum(shares) == pytest.approx(1.0)
    assert matrix.labels == {"big": "AX", "mid": "AZ", "once": "B-"}


def test_a_cells_roi_per_client_is_its_margin_per_client_over_the_acquisition_cost() -> None:
    as_of = date(2026, 12, 31)
    # "big" earns a margin of 30 on each of 12 purchases (360): AX; "mid" 10 on each of 6 (60), 300 of the 1500
    # revenue, 80 % of it above: BZ.
    purchases = ([buy("big", "100", date(2026, m, 1), "30") for m in range(1, 13)]
                 + [buy("mid", "50", date(2026, m, 1), "10") for m in range(1, 13, 2)])
    found = histories(purchases)
    abc = abc_classes({c: h.revenue for c, h in found.items()})
    xyz = xyz_classes(found, as_of, XyzConfig(mode=XyzMode.TEXTBOOK))

    matrix = abc_xyz_matrix(abc, xyz, found, as_of, acquisition_cost=D(40))

    assert (matrix.cells["AX"].margin_per_customer, matrix.cells["AX"].roi) == (D(360), 360 / 40)
    assert (matrix.cells["BZ"].margin_per_customer, matrix.cells["BZ"].roi) == (D(60), 60 / 40)
    assert abc_xyz_matrix(abc, xyz, found, as_of).cells["AX"].roi is None  # no cost given: no ROI
