"""The portrait pages, for managers and administrators: the ABC x XYZ heatmap (/analytics), the RFM segments
(/analytics/rfm), a segment's customers, the suggested persona with its index profile (/analytics/suggest) and
the win models' calibration (/analytics/win-model); administrators also queue a run and create the suggested
persona. Each view parses its input, calls one analytics use case and renders (STYLE.md 18)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from marshmallow import ValidationError

from schemas.analytics import SegmentPageArgsSchema, SuggestArgsSchema
from service.api.common import download
from service.errors import InvalidInputError, NotFoundError, ServiceError
from service.services.analytics.exports import analytics_for
from service.services.analytics.pages import portrait_page, win_models_page
from service.services.analytics.runs import queue_run
from service.services.analytics.suggest import create_suggested_persona, suggested_persona
from service.services.analytics.views import segment_customers
from service.services.reports.exports import ReportFile
from service.web import analytics_charts as charts
from service.web.auth import admin_only, signed_in
from service.web.blueprints import page_blueprint, page_runtime
from service.web.errors import error_page
from service.web.report_links import query_args

bp = page_blueprint("analytics_pages", __name__)


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: nothing but the CSRF token."""


def segment_slug(name: str) -> str:
    """A segment's name as it reads in a link ("Can't lose" -> "cant-lose", "A-" stays "A-")."""
    if len(name) == 2 and name[0] in "ABC":
        return name
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")


def _segment_url(name: str) -> str:
    return url_for("analytics_pages.segment", segment=segment_slug(name))


@bp.errorhandler(InvalidInputError)
def unknown_segment(exc: InvalidInputError) -> Response:
    """A segment or cell name the portrait does not have: a 404 page listing the known ones."""
    known = [", ".join(v) for v in (exc.errors or {}).values()]
    return error_page(404, _("There is no such segment"),
                      _("The portrait has no segment or cell of this name: the link may be wrong."), details=known)


@bp.errorhandler(NotFoundError)
def no_run(exc: NotFoundError) -> Response:
    """Nothing to show before the first finished portrait run."""
    return error_page(404, _("Not enough data yet"),
                      _("No portrait run has finished yet, so there is nothing to show. An administrator can run "
                        "one from the Portrait page."))


@bp.errorhandler(ValidationError)
def invalid_args(exc: ValidationError) -> Response:
    """Query arguments the page cannot use."""
    fields = exc.messages if isinstance(exc.messages, dict) else {}
    return error_page(400, _("This page cannot be shown with these arguments"),
                      _("Correct the address and try again."), details=[str(name) for name in fields])


def _portrait(template: str, table: str) -> Any:
    found = portrait_page(page_runtime(), table)
    drawn: dict[str, Any] = {}
    for c in (found["view"] or {}).get("currencies", []):
        if c["enough"]:
            drawn[c["currency"]] = ({"heatmap": charts.heatmap(c["matrix"])} if table == "abc-xyz" else
                                    {"bars": charts.share_bars(c["segments"]), "grid": charts.rf_grid(c["grid"])})
            answers = found.get("answers", {}).get(c["currency"])
            drawn[c["currency"]]["checks"] = charts.check_size_chart(
                answers["check_sizes"], answers["minimum"]["value"]) if answers else None
    return render_template(template, found=found, charts=drawn, run_form=ActionForm(), segment_url=_segment_url)


@bp.get("/analytics")
@signed_in
def matrix() -> Any:
    """The ABC x XYZ heatmap of the latest run with its date, parameters and data floor, and the newest run's
    progress."""
    return _portrait("analytics/matrix.html", "abc-xyz")


@bp.get("/analytics/rfm")
@signed_in
def rfm() -> Any:
    """The RFM segments and the R x F grid of the latest run."""
    return _portrait("analytics/rfm.html", "rfm")


@bp.get("/analytics/<any('abc-xyz', rfm):table>.<any(csv, xlsx):fmt>")
@signed_in
def export(table: str, fmt: str) -> Response:
    """The same tables as the API's export: CSV or XLSX."""
    found = analytics_for(page_runtime(), table, fmt)
    if not isinstance(found, ReportFile):  # only json answers with data, and the route allows no json
        abort(404)
    return download(found)


@bp.post("/analytics/runs")
@admin_only
def run_now() -> Any:
    """Queue a portrait run with the default parameters; the scheduler runs it."""
    if not ActionForm().validate_on_submit():
        return error_page(400)
    run = queue_run(page_runtime(), {}, trigger="web")
    flash(_("Portrait run %(id)s is queued; this page shows its progress.", id=run["id"]), "info")
    return redirect(url_for("analytics_pages.matrix"))


@bp.get("/analytics/segments/<string(maxlength=32):segment>")
@signed_in
def segment(segment: str) -> Any:
    """One page of a segment's (or cell's) customers."""
    args = query_args(SegmentPageArgsSchema())
    found = segment_customers(page_runtime(), segment, args["page"], args["page_size"])

    def page_url(n: int) -> str:
        return url_for("analytics_pages.segment", segment=segment, page=n, page_size=args["page_size"])

    return render_template("analytics/segment.html", found=found, page_url=page_url,
                           suggest_url=url_for("analytics_pages.suggest", segment=segment_slug(found["segment"])))


@bp.get("/analytics/suggest")
@signed_in
def suggest() -> Any:
    """The suggested persona of a segment: the index profile and anti-profile, the comparison with the current
    personas and the draft."""
    args = query_args(SuggestArgsSchema())
    found = suggested_persona(page_runtime(), args["segment"], args.get("anti"))
    return render_template("analytics/suggest.html", found=found, args=args, create_form=ActionForm(),
                           profile=charts.index_bars(found["profile"]["rows"]),
                           anti=charts.index_bars(found["anti_profile"]["rows"]), segment_url=_segment_url)


@bp.post("/analytics/suggest")
@admin_only
def create() -> Any:
    """Create the suggested persona of the segment (and anti-segment) of the query string, then show it."""
    args = query_args(SuggestArgsSchema())
    if not ActionForm().validate_on_submit():
        return error_page(400)
    try:
        created = create_suggested_persona(page_runtime(), args["segment"], args.get("anti"))
    except ServiceError as exc:
        flash(_("The persona was not created: %(why)s", why=exc.detail), "warning")
        return redirect(request.full_path.rstrip("?"))
    flash(_("Persona “%(name)s” is created from the portrait.", name=created["name"]), "info")
    return redirect(url_for("admin_personas.persona", persona_id=created["id"]))


@bp.get("/analytics/win-model")
@signed_in
def win_model() -> Any:
    """Each pipeline's win model: status or why it is disabled, AUC, Brier score, deals, and the calibration."""
    found = win_models_page(page_runtime())
    drawn = {(m["connection_id"], m["pipeline"]): charts.calibration_chart(m["calibration"]["deciles"])
             for m in found["models"] if m["calibration"] and m["calibration"].get("deciles")}
    return render_template("analytics/win_model.html", found=found, charts=drawn)
