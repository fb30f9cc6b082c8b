"""The report pages, for managers and administrators: the dashboard (/reports), the deals behind a number
(/reports/deals) and the same report as a CSV or XLSX file (/reports/qualification.csv|xlsx). Each view reads
the filters with the API's schema, calls one report use case and renders (STYLE.md 18)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from schemas.reports import GRADES, MAX_DAYS, ReportArgsSchema, ReportDealsArgsSchema
from service.api.common import download
from service.domain.report_math import MIN_CASES
from service.services.reports.drilldown import report_deals
from service.services.reports.exports import ReportFile, report_for
from service.services.reports.filters import ReportFilter, report_filter
from service.services.reports.qualification import qualification_report
from service.web.auth import signed_in
from service.web.blueprints import page_blueprint, page_runtime
from service.web.charts import report_charts
from service.web.errors import error_page
from service.web.i18n import select_locale
from service.web.report_links import ReportLinks, page_url, query_args

bp = page_blueprint("report_pages", __name__)

METRICS = {
    "moves": _l("Moves into the stage"), "allowed": _l("Allowed moves"), "blocked": _l("Blocked moves"),
    "warned": _l("Warned moves"), "audited": _l("Audited moves"), "found_by_sync": _l("Moves seen only by sync"),
    "automated": _l("Moves by API, automation, import or integration"), "too_old": _l("Moves too old to gate"),
    "created": _l("Deals created"), "no_persona": _l("Deals that fit no persona"), "closed": _l("Deals closed"),
    "won": _l("Deals won"), "lost": _l("Deals lost"), "stuck": _l("Deals held in front of a gate now"),
}
HINTS = {
    "from": _l("First day: a day such as 2025-03-31, not after the last day."),
    "to": _l("Last day: a day such as 2025-03-31."),
    "connection_id": _l("Connection: pick one from the list."),
    "pipeline": _l("Pipeline: pick one from the list."),
    "owner": _l("Owner: pick one from the list."),
    "persona_id": _l("Persona: pick one from the list."),
    "grade": _l("Grade: A, B, C or D."),
    "metric": _l("What to count: follow a number of the report to its deals."),
    "stage": _l("Stage: follow a number of the report to its deals."),
    "page": _l("Page: a page number from 1."),
    "page_size": _l("Deals per page: from 1 to 500."),
}


def _filter(args: dict[str, Any]) -> ReportFilter:
    return report_filter(args, page_runtime().clock().date())


@bp.errorhandler(ValidationError)
def invalid_filters(exc: ValidationError) -> Response:
    """Filters the report cannot use: a 400 page naming each field to correct."""
    fields = exc.messages if isinstance(exc.messages, dict) else {}
    details = [str(HINTS[name]) if name in HINTS else _("%(name)s is not a filter of this page.", name=name)
               for name in fields]
    return error_page(400, _("These filters cannot make a report"),
                      _("Nothing was counted. Correct what is listed below and try again; a report covers at most "
                        "%(days)s days.", days=MAX_DAYS), details=details)


@bp.get("/reports")
@signed_in
def dashboard() -> Any:
    """The qualification report for the period and filters of the query string (default: the last 30 days)."""
    f = _filter(query_args(ReportArgsSchema(exclude=("language",))))
    report = qualification_report(page_runtime(), f, select_locale())
    return render_template("reports/dashboard.html", report=report, links=ReportLinks.of(f),
                           choices=filter_choices(report, f), charts=report_charts(report), min_cases=MIN_CASES,
                           grades=GRADES)


@bp.get("/reports/qualification.<any(csv, xlsx):fmt>")
@signed_in
def export(fmt: str) -> Response:
    """The same report as a file: CSV (one section after another) or XLSX (a sheet per section)."""
    f = _filter(query_args(ReportArgsSchema(exclude=("language",))))
    found = report_for(page_runtime(), f, select_locale(), fmt)
    if not isinstance(found, ReportFile):  # only json answers with data, and the route allows no json
        abort(404)
    return download(found)


@bp.get("/reports/deals")
@signed_in
def deals() -> Any:
    """The deals behind one number of the report: its filters plus the number's metric, stage and owner."""
    args = query_args(ReportDealsArgsSchema(exclude=("language",)))
    f = _filter(args)
    found = report_deals(page_runtime(), f, args["metric"], args.get("stage"), args["page"], args["page_size"])
    return render_template("reports/deals.html", found=found, args=args, metric=METRICS[args["metric"]],
                           links=ReportLinks.of(f), page_url=page_url)


def filter_choices(report: dict[str, Any], f: ReportFilter) -> dict[str, list[tuple[str, str]]]:
    """The options of the filter form, from what the report found (and the filters already chosen): owners
    by name, pipelines by label, personas by name, connections by number."""
    places = [*report["compliance"]["rows"], *report["completeness"]["rows"], *report["conversion"]]
    owners = {r["owner"]: r["owner_name"] for r in report["owners"]["rows"] if r["owner"] is not None}
    pipelines = {r["pipeline"]: r["pipeline_label"] for r in places if r["pipeline"] is not None}
    personas = {str(p["persona_id"]): p["name"] for p in report["persona_mix"]["personas"]}
    connections = {str(r["connection_id"]): _("Connection %(id)s", id=r["connection_id"]) for r in places}
    chosen = {"owner": (owners, f.owner), "pipeline": (pipelines, f.pipeline),
              "persona_id": (personas, f.persona_id), "connection_id": (connections, f.connection_id)}
    for found, value in chosen.values():
        if value is not None:
            found.setdefault(str(value), str(value))
    return {name: sorted(found.items(), key=lambda item: item[1].lower()) for name, (found, _value) in chosen.items()}
