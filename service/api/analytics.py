"""/v1/analytics: the portrait drawn from the purchase history (ABC x XYZ, RFM, a segment's customers, the
suggested persona) and the runs computing it. Managers read; admins queue runs."""

from __future__ import annotations

from typing import Any

from flask import request

from schemas.analytics import (
    AbcXyzSchema,
    RfmSchema,
    RunParamsSchema,
    RunSchema,
    SegmentCustomerPageSchema,
    SegmentPageArgsSchema,
    SuggestArgsSchema,
    SuggestedPersonaSchema,
    TableArgsSchema,
)
from service.api.common import ID, download, errors, protected_blueprint, runtime
from service.services.analytics.exports import analytics_for, customers_for
from service.services.analytics.runs import get_run, queue_run
from service.services.analytics.suggest import suggested_persona
from service.services.reports.exports import MIMETYPES, ReportFile

blp = protected_blueprint("analytics", __name__, "/v1/analytics", "The portrait drawn from the purchase history")

XLSX = MIMETYPES["xlsx"]
FILE_TYPES = {"text/csv": {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}}
NO_RUN = {404: "No portrait run has finished yet (not enough data to show)"}


def wanted_format(args: dict[str, Any]) -> str:
    """?format when given, else the type the Accept header prefers among JSON, CSV and XLSX."""
    if "format" in args:
        return str(args["format"])
    best = request.accept_mimetypes.best_match(["application/json", "text/csv", XLSX], default="application/json")
    return {"text/csv": "csv", XLSX: "xlsx"}.get(best or "", "json")


def _table(name: str, args: dict[str, Any]) -> Any:
    found = analytics_for(runtime(), name, wanted_format(args))
    return download(found) if isinstance(found, ReportFile) else found


@blp.route("/abc-xyz", methods=["GET"])
@blp.arguments(TableArgsSchema, location="query")
@blp.response(200, AbcXyzSchema, description="The tables; as CSV or XLSX with ?format or an Accept header")
@blp.doc(responses={"200": {"content": {"application/json": {"schema": AbcXyzSchema}, **FILE_TYPES}}})
@errors(blp, 400, 401, 404, 422, descriptions=NO_RUN)
def abc_xyz(args: dict[str, Any]) -> Any:
    """ABC classes, XYZ and the 9-cell ABC x XYZ matrix of the latest run, per currency ("not enough data" with
    the numbers needed below the data floor)."""
    return _table("abc-xyz", args)


@blp.route("/rfm", methods=["GET"])
@blp.arguments(TableArgsSchema, location="query")
@blp.response(200, RfmSchema, description="The tables; as CSV or XLSX with ?format or an Accept header")
@blp.doc(responses={"200": {"content": {"application/json": {"schema": RfmSchema}, **FILE_TYPES}}})
@errors(blp, 400, 401, 404, 422, descriptions=NO_RUN)
def rfm(args: dict[str, Any]) -> Any:
    """RFM segments and the R x F grid of the latest run, per currency."""
    return _table("rfm", args)


@blp.route("/segments/<string(maxlength=32):segment>/customers", methods=["GET"])
@blp.arguments(SegmentPageArgsSchema, location="query")
@blp.response(200, SegmentCustomerPageSchema,
              description="A page of customers; every customer as CSV or XLSX with ?format or an Accept header")
@blp.doc(responses={"200": {"content": {"application/json": {"schema": SegmentCustomerPageSchema}, **FILE_TYPES}}})
@errors(blp, 400, 401, 404, 422, descriptions=NO_RUN)
def customers(args: dict[str, Any], segment: str) -> Any:
    """The customers of an RFM segment (Champions, cant-lose, ...) or an ABC x XYZ cell (AX, A-), by id: a page
    as JSON, or all of them (page and page_size ignored) as CSV or XLSX with their portrait values."""
    found = customers_for(runtime(), segment, args["page"], args["page_size"], wanted_format(args))
    return download(found) if isinstance(found, ReportFile) else found


@blp.route("/suggested-persona", methods=["GET"])
@blp.arguments(SuggestArgsSchema, location="query")
@blp.response(200, SuggestedPersonaSchema)
@errors(blp, 400, 401, 404, 422, descriptions=NO_RUN)
def suggested(args: dict[str, Any]) -> dict[str, Any]:
    """The persona the data suggest for a segment, with its evidence and how the current personas compare;
    POST its `draft` to /v1/personas to create it."""
    return suggested_persona(runtime(), args["segment"], args.get("anti"))


@blp.route("/runs", methods=["POST"])
@blp.arguments(RunParamsSchema, required=False)
@blp.response(202, RunSchema)
@errors(blp, 400, 401, 403, 413, 422)
def queue(args: dict[str, Any]) -> dict[str, Any]:
    """Queue a portrait run (admins); the scheduler runs it. Follow its progress at /v1/analytics/runs/{id}."""
    return queue_run(runtime(), args, trigger="api")


@blp.route(f"/runs/<{ID}:run_id>", methods=["GET"])
@blp.response(200, RunSchema)
@errors(blp, 401, 404)
def run(run_id: int) -> dict[str, Any]:
    """A run with its progress (purchases read of all), status and error."""
    return get_run(runtime(), run_id)
