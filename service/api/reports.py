"""/v1/reports/qualification: whether qualification is done and whether it pays (JSON, CSV, XLSX), and the
deals behind each number."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from schemas.reports import (
    QualificationArgsSchema,
    QualificationReportSchema,
    ReportDealPageSchema,
    ReportDealsArgsSchema,
)
from service.api.common import download, errors, protected_blueprint, runtime
from service.domain.report_rules import RULES
from service.services.reports.drilldown import report_deals
from service.services.reports.exports import ReportFile, report_for
from service.services.reports.filters import report_filter

blp = protected_blueprint("reports", __name__, "/v1/reports", "Reports for sales managers")

FILE_TYPES = {"text/csv": {"schema": {"type": "string"}},
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                  {"schema": {"type": "string", "format": "binary"}}}
RULES_DOC = "\n".join(f"- **{key}**: {texts[0]}" for key, texts in RULES.items())


@blp.route("/qualification", methods=["GET"])
@blp.arguments(QualificationArgsSchema, location="query", unknown=RAISE)
@blp.response(200, QualificationReportSchema, description="The report (`format=json`); with `format=csv` or "
              "`format=xlsx` the same numbers as a file")
@blp.doc(description="How each number is counted (also in the answer's `rules`, in `language`):\n\n" + RULES_DOC,
         responses={"200": {"content": {"application/json": {"schema": QualificationReportSchema}, **FILE_TYPES}}})
@errors(blp, 400, 401, 422)
def qualification(args: dict[str, Any]) -> Any:
    """Stage-gate compliance, portrait completeness, persona mix, whether qualification pays, each owner
    beside the team, the weekly trend and stage conversion, for a period (default: the last 30 days)."""
    rt = runtime()
    found = report_for(rt, report_filter(args, rt.clock().date()), args["language"], args["format"])
    return download(found) if isinstance(found, ReportFile) else found


@blp.route("/qualification/deals", methods=["GET"])
@blp.arguments(ReportDealsArgsSchema, location="query", unknown=RAISE)
@blp.response(200, ReportDealPageSchema)
@errors(blp, 400, 401, 422)
def qualification_deals(args: dict[str, Any]) -> dict[str, Any]:
    """The deals behind one number of the report: its filters plus the cell's metric and stage (and owner)."""
    rt = runtime()
    return report_deals(rt, report_filter(args, rt.clock().date()), args["metric"], args.get("stage"),
                        args["page"], args["page_size"])
