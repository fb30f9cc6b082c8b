"""The ABC x XYZ and RFM views, a segment's customers and the win models' calibration as CSV or XLSX, written by
the reports' writers from tables holding the same numbers as the JSON answers."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from service.runtime import Runtime
from service.services.analytics.views import abc_xyz_view, latest_run, resolve_segment, rfm_view, segment_customers
from service.services.reports.exports import MIMETYPES, ReportFile, csv_bytes, xlsx_bytes
from service.services.reports.tables import Table
from service.services.win_models import model_status

GROUP = ("customers", "customer_share", "revenue", "revenue_share", "purchases", "average_check",
         "purchases_per_year", "margin_per_customer", "roi")
ABC_RULE = ("Customers ranked by revenue (or margin); a customer's class is set by the value share of the customers "
            "with a strictly larger value (docs/analytics.md#abc).")
MATRIX_RULE = ("ABC class x XYZ class (coefficient of variation of the amounts per period); A-, B-, C-: too short a "
               "history for XYZ (docs/analytics.md#the-abc--xyz-matrix).")
RFM_RULE = "RFM scores 1-5 by quintile, segments named from R and F (docs/analytics.md#rfm)."
CHECK_RULE = ("Percentiles of every purchase amount of the customers of class A and of class C: the check-size "
              "distribution the minimum profitable purchase is read off (docs/analytics.md#per-segment-and-per-cell).")
CUSTOMERS_RULE = ("The customers of {segment} in the latest portrait run, by id: RFM scores (R, F, M), ABC and XYZ "
                  "classes, previous segment; their portrait values in the value.* columns.")
MODELS_RULE = ("Each pipeline's win model: the one in use, else why there is none; AUC and Brier score on the latest "
               "20 % of closed deals (docs/analytics.md#win-probability).")
CALIBRATION_RULE = ("Hold-out deals per predicted-probability decile [low, high): n, won, mean predicted probability "
                    "and observed win rate.")
CUSTOMER_COLUMNS = ("id", "source", "kind", "external_id", "name", "segment", "scores", "abc", "xyz",
                    "previous_segment", "changed_at")
ALL = 2_000_000_000  # "every customer" as a page size
FLOOR_RULE = "Below the data floor no table is shown: the numbers there are and the numbers needed."


def _group(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in GROUP)


def _floor_table(view: dict[str, Any]) -> Table:
    return Table("data_floor", FLOOR_RULE, ("currency", "enough", "customers", "customers_needed", "months",
                                            "months_needed", "message"),
                 [(c["currency"], c["enough"], c["customers"], c["customers_needed"], c["months"],
                   c["months_needed"], c["message"]) for c in view["currencies"]])


def _quantile_order(name: str) -> float:
    return float(name[1:]) if name[1:].replace(".", "", 1).isdigit() else float("inf")


def check_sizes_table(view: dict[str, Any]) -> Table:
    """The check sizes of abc_xyz_view (per currency and class: n and the p10..p90 amounts) as one table."""
    ready = [c for c in view["currencies"] if c["enough"]]
    names = sorted({q for c in ready for cs in c["check_sizes"].values() for q in cs["quantiles"]},
                   key=lambda q: (_quantile_order(q), q))
    return Table("check_sizes", CHECK_RULE, ("currency", "class", "n", *names),
                 [(c["currency"], name, cs["n"], *(cs["quantiles"].get(q) for q in names))
                  for c in ready for name, cs in sorted(c["check_sizes"].items())])


def abc_xyz_tables(view: dict[str, Any]) -> list[Table]:
    """abc_xyz_view's numbers as tables: the data floor, the ABC classes, the matrix and the check sizes (A vs
    C), per currency."""
    ready = [c for c in view["currencies"] if c["enough"]]
    return [
        _floor_table(view),
        Table("abc", ABC_RULE, ("currency", "class", "customers", "customer_share", "value", "value_share"),
              [(c["currency"], r["name"], r["customers"], r["customer_share"], r["value"], r["value_share"])
               for c in ready for r in c["abc"]["rows"]]),
        Table("abc_xyz", MATRIX_RULE, ("currency", "cell", *GROUP),
              [(c["currency"], r["name"], *_group(r)) for c in ready for r in c["matrix"]]),
        check_sizes_table(view),
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


def _cell(value: Any) -> Any:
    """A JSON value as a spreadsheet cell: numbers, text and booleans as they are, dates as ISO text, lists and
    objects as JSON."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def customers_table(page: dict[str, Any]) -> Table:
    """segment_customers' items as one table: the fixed columns, then one ``value.<key>`` column per portrait
    value any of them holds (sorted by key)."""
    keys = sorted({k for item in page["items"] for k in item["values"]})
    return Table("customers", CUSTOMERS_RULE.format(segment=page["segment"]),
                 (*CUSTOMER_COLUMNS, *(f"value.{k}" for k in keys)),
                 [(*(_cell(item[c]) for c in CUSTOMER_COLUMNS), *(_cell(item["values"].get(k)) for k in keys))
                  for item in page["items"]])


def customers_for(runtime: Runtime, segment: str, page: int, page_size: int, fmt: str
                  ) -> dict[str, Any] | ReportFile:
    """A segment's (or cell's) customers: one page as data (``fmt`` json), or every one of them as a csv or xlsx
    file named after the segment and the run's date; InvalidInputError for an unknown segment, NotFoundError
    when no run has finished."""
    if fmt == "json":
        return segment_customers(runtime, segment, page, page_size)
    name = resolve_segment(segment)
    with runtime.read_uow() as uow:
        as_of = latest_run(uow.session).as_of
    tables = [customers_table(segment_customers(runtime, name, 1, ALL))]
    content = csv_bytes(tables) if fmt == "csv" else xlsx_bytes(tables)
    slug = name.lower().replace("'", "").replace(" ", "-")
    return ReportFile(content, MIMETYPES[fmt], f"segment-{slug}-{as_of}.{fmt}")


def win_model_tables(status: dict[str, Any]) -> list[Table]:
    """model_status' answer as tables: one row per pipeline's model, then its calibration deciles."""
    models = status["models"]
    return [
        Table("win_models", MODELS_RULE, ("connection_id", "pipeline", "pipeline_label", "status", "reason", "won",
                                          "lost", "auc", "brier", "holdout_n", "holdout_won", "built_at"),
              [(m["connection_id"], m["pipeline"], m["pipeline_label"], m["status"], m["reason"], m["won"], m["lost"],
                m["auc"], m["brier"], *((m["calibration"]["n"], m["calibration"]["won"]) if m["calibration"]
                                        else (None, None)), _cell(m["built_at"])) for m in models]),
        Table("calibration", CALIBRATION_RULE, ("pipeline", "low", "high", "n", "won", "predicted", "win_rate"),
              [(m["pipeline"], d["low"], d["high"], d["n"], d["won"], d.get("predicted"), d.get("win_rate"))
               for m in models if m["calibration"] for d in m["calibration"]["deciles"]]),
    ]


def win_model_for(runtime: Runtime, connection_id: int, pipeline: str | None, fmt: str
                  ) -> dict[str, Any] | ReportFile:
    """The win models of a connection's pipelines (or one) with their calibration, as data (``fmt`` json) or as
    a csv or xlsx file named after the connection and today; NotFoundError for an unknown connection or
    pipeline."""
    status = model_status(runtime, connection_id, pipeline)
    if fmt == "json":
        return status
    tables = win_model_tables(status)
    content = csv_bytes(tables) if fmt == "csv" else xlsx_bytes(tables)
    return ReportFile(content, MIMETYPES[fmt], f"win-model-{connection_id}-{runtime.clock().date()}.{fmt}")
