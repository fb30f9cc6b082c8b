"""The portrait charts' geometry: where cells, bars and points go and which intensity class they get."""

from __future__ import annotations

import pytest

from service.web import analytics_charts as charts


def _cell(name: str, customers: int, share: float | None) -> dict[str, object]:
    return {"name": name, "customers": customers, "revenue_share": share, "average_check": 10.0,
            "purchases_per_year": 2.0}


def test_level_is_zero_for_nothing_and_five_for_the_peak() -> None:
    assert charts.level(None, 1.0) == charts.level(0.0, 1.0) == charts.level(0.3, 0.0) == 0
    assert charts.level(1.0, 1.0) == charts.LEVELS
    assert charts.level(0.01, 1.0) == 1  # any share at all is visible
    assert charts.level(0.5, 1.0) == 3 and charts.level(0.4, 1.0) == 2


def test_heatmap_places_abc_in_columns_xyz_in_rows_and_the_abc_only_row_last() -> None:
    matrix = [_cell("AX", 10, 0.6), _cell("BY", 5, 0.3), _cell("C-", 40, 0.1)]
    chart = charts.heatmap(matrix)
    by_name = {c.name: c for c in chart.cells}
    assert len(chart.cells) == 12 and set(by_name) == {a + x for x in "XYZ-" for a in "ABC"}
    ax, by, c_only = by_name["AX"], by_name["BY"], by_name["C-"]
    assert (ax.x, ax.y) == (charts.HEAT_LEFT, charts.HEAT_TOP)
    assert by.x - ax.x == charts.CELL_W and by.y - ax.y == charts.CELL_H
    assert c_only.x == ax.x + 2 * charts.CELL_W and c_only.y == ax.y + 3 * charts.CELL_H
    assert (ax.level, by.level, c_only.level, by_name["AZ"].level) == (5, 3, 1, 0)
    assert (c_only.customers, by_name["AZ"].customers, by_name["AZ"].revenue_share) == (40, 0, None)
    assert chart.height >= c_only.y + charts.CELL_H and chart.width >= c_only.x + charts.CELL_W


def test_rf_grid_puts_r5_on_top_and_f5_on_the_right() -> None:
    grid = [{"r": r, "f": f, "customers": r * f} for r in range(5, 0, -1) for f in range(1, 6)]
    chart = charts.rf_grid(grid)
    cells = {(c.r, c.f): c for c in chart.cells}
    assert cells[(5, 1)].y < cells[(1, 1)].y and cells[(1, 5)].x > cells[(1, 1)].x
    assert cells[(5, 5)].level == 5 and cells[(1, 1)].level == 1


def test_share_bars_are_proportional_to_the_shares() -> None:
    chart = charts.share_bars([
        {"name": "Champions", "customers": 20, "customer_share": 0.2, "revenue_share": 0.7},
        {"name": "Lost", "customers": 80, "customer_share": 0.8, "revenue_share": None}])
    first, second = chart.rows
    assert first.customer_length == pytest.approx(0.2 * charts.SHARE_WIDTH)
    assert first.revenue_length == pytest.approx(0.7 * charts.SHARE_WIDTH)
    assert second.revenue_length == 0 and second.y > first.y
    assert chart.height > second.y


def test_index_bars_scale_to_the_highest_interval_and_mark_100() -> None:
    rows = [{"field": "type", "value": "wholesale", "index": 400.0, "segment_count": 90, "low": 0.7, "high": 0.9,
             "base_share": 0.2},
            {"field": "region", "value": "north", "index": 50.0, "segment_count": 40, "low": 0.1, "high": 0.3,
             "base_share": 0.4}]
    chart = charts.index_bars(rows)
    top, low = chart.bars
    assert chart.peak == pytest.approx(450.0)  # 0.9 / 0.2 x 100: the interval's top sets the scale
    scale = charts.PLOT_WIDTH / 450.0
    assert top.length == pytest.approx(400 * scale) and top.high_x == pytest.approx(charts.LABEL_WIDTH + 450 * scale)
    assert (top.low, top.high) == (pytest.approx(350.0), pytest.approx(450.0))
    assert (low.low, low.high) == (pytest.approx(25.0), pytest.approx(75.0))
    assert chart.hundred_x == pytest.approx(charts.LABEL_WIDTH + 100 * scale)
    assert charts.index_bars([]).peak == 200.0  # an empty profile still has an axis with 100 on it


def test_calibration_points_sit_at_predicted_and_observed_and_skip_empty_deciles() -> None:
    deciles = [{"low": i / 10, "high": (i + 1) / 10, "n": 0, "won": 0, "predicted": None, "win_rate": None}
               for i in range(10)]
    deciles[1] = {"low": 0.1, "high": 0.2, "n": 25, "won": 5, "predicted": 0.15, "win_rate": 0.2}
    deciles[9] = {"low": 0.9, "high": 1.0, "n": 100, "won": 90, "predicted": 0.95, "win_rate": 0.9}
    chart = charts.calibration_chart(deciles)
    assert [p.n for p in chart.points] == [25, 100]
    low, high = chart.points
    assert low.x == pytest.approx(chart.left + 0.15 * chart.size)
    assert low.y == pytest.approx(chart.top + 0.8 * chart.size)  # y grows downwards
    assert high.radius > low.radius
    assert chart.ticks[0] == (0.0, 0.0) and chart.ticks[-1] == (1.0, pytest.approx(chart.size))
