"""The ABC x XYZ and RFM views as CSV or XLSX, written by the reports' writers from tables holding the same
numbers as the JSON answers."""

from __future__ import annotations

from typing import Any

from service.runtime import Runtime
from service.services.analytics.views import abc_xyz_view, rfm_view
from service.services.reports.exports import MIMETYPES, ReportFile, csv_bytes, xlsx_bytes
from service.services.reports.tables import Table

GROUP = ("customers", "customer_share", "revenue", "revenue_share", "purchases", "average_check",
         "purchases_per_year", "margin_per_customer", "roi")
ABC_RULE = ("Customers ranked by revenue (or margin); a customer's class is set by the value share of the customers "
            "with a strictly larger value (docs/analytics.md#abc).")
MATRIX_RULE = ("ABC class x XYZ class (coefficient of variation of the amounts per period); A-, B-, C-: too short a "
               "history for XYZ (docs/analytics.md#the-abc--xyz-matrix).")
RFM_RULE = "RFM scores 1-5 by quintile, segments named from R and F (docs/analytics.md#rfm)."
FLOOR_RULE = "Below the data floor no table is shown: the numbers there are and the numbers needed."


def _group(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in GROUP)


def _floor_table(view: dict[str, Any]) -> Table:
    return Table("data_floor", FLOOR_RULE, ("currency", "enough", "customers", "customers_needed", "months",
                                            "months_needed", "message"),
                 [(c["currency"], c["enough"], c["customers"], c["customers_needed"], c["months"],
                   c["months_needed"], c["message"]) for c in view["currencies"]])


def abc_xyz_tables(view: dict[str, Any]) -> list[Table]:
    """abc_xyz_view's numbers as tables: the data floor, the ABC classes and the matrix, per currency."""
    ready = [c for c in view["currencies"] if c["enough"]]
    return [
        _floor_table(view),
        Table("abc", ABC_RULE, ("currency", "class", "customers", "customer_share", "value", "value_share"),
              [(c["currency"], r["name"], r["customers"], r["customer_share"], r["value"], r["value_share"])
               for c in ready for r in c["abc"]["rows"]]),
        Table("abc_xyz", MATRIX_RULE, ("currency", "cell", *GROUP),
              [(c["currency"], r["name"], *_group(r)) for c in ready for r in c["matrix"]]),
    ]


def rfm_tables(view: dict[str, Any]) -> list[Table]:
    """rfm_view's numbers as tables: the data floor, the segments and the R x F grid, per currency."""
    ready = [c for c in view["currencies"] if c["enough"]]
    return [
        _floor_table(view),
        Table("rfm_segments", RFM_RULE, ("currency", "segment", *GROUP),
              [(c["currency"], r["name"], *_group(r)) for c in ready for r in c["segments"]]),
        Table("rfm_grid", RFM_RULE, ("currency", "r", "f", "customers"),
              [(c["currency"], g["r"], g["f"], g["customers"]) for c in ready for g in c["grid"]]),
    ]


def analytics_for(runtime: Runtime, table: str, fmt: str) -> dict[str, Any] | ReportFile:
    """The ``table`` view ("abc-xyz" or "rfm") as data (``fmt`` json) or as a csv or xlsx file named after its
    date; NotFoundError when no run has finished."""
    view = abc_xyz_view(runtime) if table == "abc-xyz" else rfm_view(runtime)
    if fmt == "json":
        return view
    tables = abc_xyz_tables(view) if table == "abc-xyz" else rfm_tables(view)
    content = csv_bytes(tables) if fmt == "csv" else xlsx_bytes(tables)
    return ReportFile(content, MIMETYPES[fmt], f"{table}-{view['as_of']}.{fmt}")
