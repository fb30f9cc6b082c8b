"""The geometry of the report's charts, drawn as server-side SVG by templates/reports/_charts.html: no
JavaScript, nothing fetched, readable printed. Numbers come from the report unchanged; this module only places
them (the template writes the texts, so they are translated and formatted like the tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH = 720  # the SVG's own units; it scales to the page
LABEL_WIDTH = 200  # the labels' column of bar charts
BAR_WIDTH = 380  # a 100% bar
BAR_HEIGHT = 16
GAP = 6
PLOT_HEIGHT = 160  # columns' area
AXIS = 36  # below the columns: week labels


@dataclass(frozen=True)
class Bar:
    """One bar of a row: `part` of `whole` (share None without cases), drawn `length` long at `y`."""

    series: str
    y: float
    length: float
    part: int
    whole: int
    share: float | None


@dataclass(frozen=True)
class Row:
    """A labelled row of bars (one per series)."""

    label: str
    y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars of shares, one row per label."""

    rows: tuple[Row, ...]
    series: tuple[str, ...]
    height: float
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH


@dataclass(frozen=True)
class Column:
    """One week: `total` drawn `height` high from the baseline, its `part` (blocked) `part_height` of it."""

    label: date
    x: float
    width: float
    total: int
    part: int
    height: float
    part_height: float


@dataclass(frozen=True)
class ColumnChart:
    """Stacked columns of counts, one per week."""

    columns: tuple[Column, ...]
    peak: int
    width: int = WIDTH
    height: int = PLOT_HEIGHT + AXIS + 20
    baseline: int = PLOT_HEIGHT + 20
    plot_height: int = PLOT_HEIGHT


def bar_chart(rows: Sequence[tuple[str, Sequence[tuple[str, int, int]]]]) -> BarChart:
    """A chart of rows (label, [(series, part, whole), ...]); every row has the same series."""
    placed, y = [], float(GAP)
    for label, values in rows:
        top = y
        bars = []
        for series, part, whole in values:
            share = part / whole if whole else None
            bars.append(Bar(series, y, BAR_WIDTH * (share or 0.0), part, whole, share))
            y += BAR_HEIGHT + 2
        placed.append(Row(label, top, tuple(bars)))
        y += GAP * 2
    names = tuple(name for name, _, _ in rows[0][1]) if rows else ()
    return BarChart(tuple(placed), names, y + GAP)


def column_chart(items: Sequence[tuple[date, int, int]]) -> ColumnChart:
    """Columns of (label, total, part of it) side by side, scaled to the highest total."""
    peak = max((total for _, total, _ in items), default=0)
    slot = (WIDTH - 60) / max(len(items), 1)
    columns = []
    for i, (label, total, part) in enumerate(items):
        scale = PLOT_HEIGHT / peak if peak else 0.0
        columns.append(Column(label, 50 + i * slot + slot * 0.15, slot * 0.7, total, part, total * scale,
                              part * scale))
    return ColumnChart(tuple(columns), peak)


def by_stage(rows: Iterable[dict[str, Any]], part: str, whole: str) -> list[tuple[str, int, int]]:
    """Per stage (in the report's order: pipeline, then stage order), the sums of `part` and `whole` over its
    owners' rows; labels name the pipeline too when there are several."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = (row["connection_id"], row["pipeline"], row["stage"])
        entry = sums.setdefault(key, [row["pipeline_label"], row["stage_label"], 0, 0])
        entry[2] += row[part] or 0
        entry[3] += row[whole] or 0
    several = len({key[:2] for key in sums}) > 1
    return [(f"{p} · {s}" if several else s, n, total) for p, s, n, total in sums.values()]


def report_charts(report: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's charts of a report: blocked share per stage, gated moves per week with the blocked
    ones, and per pipeline the share of deals that reached each stage by any path and strictly."""
    weeks = [(date.fromisoformat(w["week"]), w["moves"], round((w["blocked_share"] or 0) * w["moves"]))
             for w in report["trend"]["weeks"]]
    return {
        "blocked": bar_chart([(label, [("blocked", part, whole)])
                              for label, part, whole in by_stage(report["compliance"]["rows"], "blocked", "moves")]),
        "weeks": column_chart(weeks),
        "conversion": [(p["pipeline_label"], bar_chart([(s["stage_label"], [("any", s["any"], p["deals"]),
                                                                            ("strict", s["strict"], p["deals"])])
                                                        for s in p["stages"]])) for p in report["conversion"]],
    }
