"""The domain's AnalyticsReport as the JSON stored on a run: per currency the ABC table, XYZ summary, the
ABC x XYZ matrix, the RFM segments and grid and the check sizes, or the data floor's "not enough data".
Per-customer labels are not stored here but in customer_segments."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.domain.analytics.abc import ClassRow
from service.domain.analytics.floors import MIN_CUSTOMERS, MIN_MONTHS, NotEnoughData
from service.domain.analytics.groups import GroupStats
from service.domain.analytics.report import Analysis, AnalyticsReport


def _num(value: Decimal | float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def group_json(g: GroupStats) -> dict[str, Any]:
    """One segment or cell as plain JSON values."""
    return {"name": g.name, "customers": g.customers, "customer_share": _num(g.customer_share),
            "revenue": _num(g.revenue), "revenue_share": _num(g.revenue_share), "purchases": g.purchases,
            "average_check": _num(g.average_check), "purchases_per_year": _num(g.purchases_per_year),
            "margin_per_customer": _num(g.margin_per_customer), "roi": _num(g.roi)}


def _class_json(row: ClassRow) -> dict[str, Any]:
    return {"name": row.name, "customers": row.customers, "customer_share": _num(row.customer_share),
            "value": _num(row.value), "value_share": _num(row.value_share)}


def floor_json(currency: str | None, floor: NotEnoughData) -> dict[str, Any]:
    """A currency under the data floor: the numbers there are and the numbers needed."""
    return {"currency": currency, "enough": False, "message": floor.message, "customers": floor.customers,
            "customers_needed": floor.customers_needed, "months": floor.months, "months_needed": floor.months_needed}


def analysis_json(a: Analysis) -> dict[str, Any]:
    """Every table of one analysed currency."""
    grid = Counter((s.r, s.f) for s in a.rfm.values())
    demand = Counter(v.demand.value for v in a.xyz.variation.values())
    return {
        "currency": a.currency, "enough": True, "message": None, "customers": a.customers,
        "unclassified": a.unclassified,
        "abc": {"rows": [_class_json(r) for r in a.abc.rows], "total": _num(a.abc.total)},
        "xyz": {"mode": a.xyz.mode.value, "cutoffs": list(a.xyz.cutoffs) if a.xyz.cutoffs else None,
                "classes": dict(sorted(Counter(a.xyz.classes.values()).items())), "abc_only": len(a.xyz.abc_only),
                "demand": dict(sorted(demand.items()))},
        "matrix": [group_json(g) for g in (*a.matrix.cells.values(), *a.matrix.abc_only.values())],
        "segments": [group_json(g) for g in a.segments.values()],
        "grid": [{"r": r, "f": f, "customers": grid.get((r, f), 0)} for r in range(5, 0, -1) for f in range(1, 6)],
        "check_sizes": {name: {"n": c.n, "quantiles": {f"p{round(q * 100)}": v for q, v in c.quantiles.items()}}
                        for name, c in a.check_sizes.items()},
    }


def report_json(report: AnalyticsReport, computed_at: datetime) -> dict[str, Any]:
    """The stored result of a run; with no purchases at all, one "not enough data" entry without a currency."""
    currencies = [floor_json(c, r) if isinstance(r, NotEnoughData) else analysis_json(r)
                  for c, r in report.results.items()]
    if not currencies:
        currencies = [floor_json(None, NotEnoughData(0, MIN_CUSTOMERS, 0, MIN_MONTHS))]
    return {"as_of": report.as_of.isoformat(), "computed_at": computed_at.isoformat(),
            "converted": report.converted, "base": report.base, "currencies": currencies}
