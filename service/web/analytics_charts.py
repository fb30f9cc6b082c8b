"""The geometry of the portrait pages' charts, drawn as server-side SVG by templates/analytics/_charts.html (no
JavaScript, nothing fetched; colours are CSS classes because the CSP forbids inline style). Numbers come from the
service's views unchanged; this module only places them and picks an intensity level (heat-0..heat-5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 720
LEVELS = 5  # heat-1..heat-5; heat-0 is an empty cell
CELL_W, CELL_H = 200, 86
HEAT_LEFT, HEAT_TOP = 80, 30
ABC = ("A", "B", "C")
XYZ_ROWS = ("X", "Y", "Z", "-")  # "-": too short a history for XYZ (the ABC-only row)
GRID_CELL = 56
LABEL_WIDTH = 230
PLOT_WIDTH = 380
SHARE_WIDTH = 300  # share bars leave room for "20% · 1,234 customers"
BAR_HEIGHT = 16
ROW_GAP = 10
PLOT = 300  # the calibration chart's square plot
PLOT_LEFT, PLOT_TOP = 60, 20


def level(value: float | None, peak: float | None) -> int:
    """The intensity class of ``value`` on a scale whose top is ``peak``: 0 for nothing, else 1..LEVELS."""
    if not value or not peak or value <= 0 or peak <= 0:
        return 0
    return max(1, min(LEVELS, math.ceil(value / peak * LEVELS - 1e-9)))


@dataclass(frozen=True)
class HeatCell:
    """One ABC x XYZ cell (or ABC-only cell) at (x, y) with its numbers and intensity level."""

    name: str
    x: float
    y: float
    level: int
    customers: int
    revenue_share: float | None
    average_check: float | None
    purchases_per_year: float | None


@dataclass(frozen=True)
class Heatmap:
    """Columns A, B, C; rows X, Y, Z and the ABC-only row; intensity by revenue share (the largest share is
    heat-5)."""

    cells: tuple[HeatCell, ...]
    columns: tuple[tuple[str, float], ...]
    rows: tuple[tuple[str, float], ...]
    width: int
    height: int
    cell_width: int = CELL_W
    cell_height: int = CELL_H


def heatmap(matrix: Sequence[dict[str, Any]]) -> Heatmap:
    """The heatmap of the view's 12 matrix rows (name AX..CZ, A-..C-; customers, revenue_share, average_check,
    purchases_per_year); a cell missing from the view is drawn empty."""
    by_name = {row["name"]: row for row in matrix}
    peak = max((row.get("revenue_share") or 0.0 for row in matrix), default=0.0)
    cells = []
    for j, xyz in enumerate(XYZ_ROWS):
        for i, abc in enumerate(ABC):
            row = by_name.get(abc + xyz, {})
            cells.append(HeatCell(abc + xyz, HEAT_LEFT + i * CELL_W, HEAT_TOP + j * CELL_H,
                                  level(row.get("revenue_share"), peak), row.get("customers", 0),
                                  row.get("revenue_share"), row.get("average_check"), row.get("purchases_per_year")))
    columns = tuple((abc, HEAT_LEFT + i * CELL_W + CELL_W / 2) for i, abc in enumerate(ABC))
    rows = tuple((xyz, HEAT_TOP + j * CELL_H + CELL_H / 2) for j, xyz in enumerate(XYZ_ROWS))
    return Heatmap(tuple(cells), columns, rows, HEAT_LEFT + len(ABC) * CELL_W + 10,
                   HEAT_TOP + len(XYZ_ROWS) * CELL_H + 10)


@dataclass(frozen=True)
class GridCell:
    """One R x F cell: its customers and intensity."""

    r: int
    f: int
    x: float
    y: float
    customers: int
    level: int


@dataclass(frozen=True)
class Grid:
    """The 5 x 5 R x F grid: R from 5 (top) to 1, F from 1 (left) to 5; intensity by customers."""

    cells: tuple[GridCell, ...]
    size: int
    width: int
    height: int
    left: int = 40
    top: int = 10


def rf_grid(grid: Sequence[dict[str, int]]) -> Grid:
    """The R x F grid of the view's 25 {r, f, customers} entries."""
    peak = max((g["customers"] for g in grid), default=0)
    left, top = 40, 10
    cells = tuple(GridCell(g["r"], g["f"], left + (g["f"] - 1) * GRID_CELL, top + (5 - g["r"]) * GRID_CELL,
                           g["customers"], level(g["customers"], peak)) for g in grid)
    return Grid(cells, GRID_CELL, left + 5 * GRID_CELL + 10, top + 5 * GRID_CELL + 40)


@dataclass(frozen=True)
class ShareRow:
    """A segment's row: its share of customers and of revenue drawn `customer_length` and `revenue_length` long."""

    name: str
    y: float
    customers: int
    customer_share: float | None
    revenue_share: float | None
    customer_length: float
    revenue_length: float


@dataclass(frozen=True)
class ShareBars:
    """Two bars per segment (customers, revenue), 100 % = `bar_width`."""

    rows: tuple[ShareRow, ...]
    height: float
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_width: int = SHARE_WIDTH


def share_bars(segments: Sequence[dict[str, Any]]) -> ShareBars:
    """The view's segments (name, customers, customer_share, revenue_share) as pairs of bars, in the view's
    order."""
    rows, y = [], float(ROW_GAP)
    for s in segments:
        cs, rs = s.get("customer_share"), s.get("revenue_share")
        rows.append(ShareRow(s["name"], y, s["customers"], cs, rs, SHARE_WIDTH * (cs or 0.0),
                             SHARE_WIDTH * (rs or 0.0)))
        y += 2 * (BAR_HEIGHT + 2) + ROW_GAP
    return ShareBars(tuple(rows), y + ROW_GAP)


@dataclass(frozen=True)
class IndexBar:
    """One attribute value's index drawn `length` long, its 95 % interval from `low_x` to `high_x`."""

    field: str
    value: str
    y: float
    index: float
    low: float | None
    high: float | None
    n: int
    length: float
    low_x: float
    high_x: float


@dataclass(frozen=True)
class IndexBars:
    """Bars of the index (100 = as common as among all customers, at `hundred_x`), scaled to `peak`."""

    bars: tuple[IndexBar, ...]
    peak: float
    hundred_x: float
    height: float
    width: int = WIDTH + 100  # room for "index · n · interval"
    label_width: int = LABEL_WIDTH
    bar_width: int = PLOT_WIDTH


def index_bars(rows: Sequence[dict[str, Any]]) -> IndexBars:
    """The profile's shown rows (field, value, index, segment_count, low/high: the Wilson interval of the segment
    share, base_share) as bars; the interval of the index is that of the share over the base share."""
    placed = []
    for r in rows:
        base = r.get("base_share") or 0.0
        low = r["low"] / base * 100 if base else None
        high = r["high"] / base * 100 if base else None
        placed.append((r, low, high))
    peak = max([200.0] + [max(r["index"], high or 0.0) for r, _, high in placed])
    scale = PLOT_WIDTH / peak
    bars, y = [], float(ROW_GAP)
    for r, low, high in placed:
        bars.append(IndexBar(r["field"], r["value"], y, r["index"], low, high, r["segment_count"],
                             r["index"] * scale, LABEL_WIDTH + (low or r["index"]) * scale,
                             LABEL_WIDTH + (high or r["index"]) * scale))
        y += BAR_HEIGHT + ROW_GAP
    return IndexBars(tuple(bars), peak, LABEL_WIDTH + 100 * scale, y + 30)


@dataclass(frozen=True)
class CalibrationPoint:
    """A probability decile with deals: mean predicted (x) against the observed win rate (y), with n."""

    low: float
    high: float
    n: int
    predicted: float
    win_rate: float
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class Calibration:
    """The calibration chart: a square plot (0-100 % both ways) with the diagonal of perfect calibration."""

    points: tuple[CalibrationPoint, ...]
    ticks: tuple[tuple[float, float], ...]  # (share, offset) for both axes
    left: int = PLOT_LEFT
    top: int = PLOT_TOP
    size: int = PLOT
    width: int = PLOT_LEFT + PLOT + 20
    height: int = PLOT_TOP + PLOT + 50


def calibration_chart(deciles: Sequence[dict[str, Any]]) -> Calibration:
    """The deciles (low, high, n, predicted, win_rate) that hold deals as points; a point's area grows with n."""
    peak = max((d["n"] for d in deciles), default=0)
    points = []
    for d in deciles:
        if not d["n"] or d.get("predicted") is None or d.get("win_rate") is None:
            continue
        points.append(CalibrationPoint(d["low"], d["high"], d["n"], d["predicted"], d["win_rate"],
                                       PLOT_LEFT + d["predicted"] * PLOT, PLOT_TOP + (1 - d["win_rate"]) * PLOT,
                                       3 + 7 * math.sqrt(d["n"] / peak)))
    ticks = tuple((i / 5, i / 5 * PLOT) for i in range(6))
    return Calibration(tuple(points), ticks)


CHECK_LEFT = 60  # room for "A" / "C" and n
CHECK_PLOT = 560
CHECK_ROW = 44
LOG_SPREAD = 10  # a log axis once the largest value is over 10x the smallest


@dataclass(frozen=True)
class CheckBox:
    """One class's check sizes as a box plot: the whisker from p10 to p90, the box from p25 to p75, the median
    line; values and their x positions."""

    name: str
    n: int
    y: float
    values: tuple[float, float, float, float, float]  # p10, p25, p50, p75, p90
    xs: tuple[float, float, float, float, float]


@dataclass(frozen=True)
class CheckSizeChart:
    """The check sizes of A and C on one axis (logarithmic when they span more than LOG_SPREAD times), ticks as
    (value, x), and the minimum profitable purchase's marker line when it is known."""

    boxes: tuple[CheckBox, ...]
    ticks: tuple[tuple[float, float], ...]
    log: bool
    marker: float | None
    marker_x: float | None
    height: float
    left: int = CHECK_LEFT
    plot_width: int = CHECK_PLOT
    width: int = CHECK_LEFT + CHECK_PLOT + 40
    box_height: int = 20


def _nice_step(span: float) -> float:
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def check_size_chart(check_sizes: dict[str, Any], minimum: float | None) -> CheckSizeChart | None:
    """Box plots of the stored check sizes of A and C ({"A": {n, quantiles: {p10..p90}}, ...}) with the minimum
    profitable purchase marked; None when neither class has purchases."""
    keys = ("p10", "p25", "p50", "p75", "p90")
    found = [(name, c) for name in ("A", "C") if (c := check_sizes.get(name)) and c.get("n")
             and all(k in c["quantiles"] for k in keys)]
    if not found:
        return None
    values = [float(c["quantiles"][k]) for _, c in found for k in keys] + ([minimum] if minimum is not None else [])
    low, high = min(values), max(values)
    log = low > 0 and high / low > LOG_SPREAD
    if log:
        lo_exp, hi_exp = math.floor(math.log10(low)), math.ceil(math.log10(high))
        hi_exp = max(hi_exp, lo_exp + 1)
        start, end = float(lo_exp), float(hi_exp)
        tick_values = [m * 10.0 ** e for e in range(lo_exp, hi_exp + 1) for m in (1, 2, 5)
                       if m * 10.0 ** e <= 10.0 ** hi_exp]
    else:
        step = _nice_step((high - min(0.0, low)) or 1.0)
        start = min(0.0, math.floor(low / step) * step)
        end = math.ceil(high / step) * step if high > 0 else start + step
        tick_values = [start + i * step for i in range(round((end - start) / step) + 1)]

    def x(value: float) -> float:
        at = math.log10(value) if log else value
        return CHECK_LEFT + (at - start) / (end - start) * CHECK_PLOT

    boxes = []
    for i, (name, c) in enumerate(found):
        p10, p25, p50, p75, p90 = (float(c["quantiles"][k]) for k in keys)
        boxes.append(CheckBox(name, int(c["n"]), 10 + i * CHECK_ROW, (p10, p25, p50, p75, p90),
                              (x(p10), x(p25), x(p50), x(p75), x(p90))))
    return CheckSizeChart(tuple(boxes), tuple((t, x(t)) for t in tick_values), log, minimum,
                          None if minimum is None else x(minimum), 10 + len(boxes) * CHECK_ROW + 30)
