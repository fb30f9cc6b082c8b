"""Admin pages of the pipeline boards (/admin/pipelines): every connection's pipelines, and one pipeline's
board, its stages as columns and the portrait fields as rows, where an admin ticks what each stage requires,
sets each gate's mode and a condition per cell, previews what the proposed gates would block (open deals and
the replay of recent moves, nothing stored) and then saves exactly what was previewed, all or nothing."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from service.errors import NotFoundError, ServiceError
from service.services.board import PREVIEW_DAYS, apply_board, board_view, pipelines_overview, preview_board
from service.web.auth import admin_only
from service.web.blueprints import ID, page_blueprint, page_runtime
from service.web.board_forms import EMPTY_ROWS, MAX_ROWS, BoardForm, board_proposal, carried, preview_days
from service.web.errors import error_page
from service.web.i18n import select_locale

bp = page_blueprint("admin_board", __name__, url_prefix="/admin")


@bp.errorhandler(NotFoundError)
def no_such_pipeline(exc: NotFoundError) -> Response:
    """A pipeline number Qualify does not know: a 404 page that says so."""
    return error_page(404, _("There is no such pipeline"),
                      _("Qualify has no pipeline with this number: the link may be wrong, or the connection was "
                        "removed."))


def _details(exc: ServiceError) -> list[str]:
    return [exc.detail] + [f"{path}: {'; '.join(messages)}" for path, messages in (exc.errors or {}).items()]


def _render(board: dict[str, Any], *, errors: list[str] | None = None, preview: dict[str, Any] | None = None,
            carried_inputs: list[tuple[str, str]] | None = None, days: int = PREVIEW_DAYS) -> str:
    return render_template("admin/board.html", board=board, form=BoardForm(), errors=errors or [],
                           preview=preview, carried=carried_inputs or [], days=days, max_rows=MAX_ROWS,
                           empty_rows=EMPTY_ROWS)


def _board_page(pipeline_id: int, proposal: dict[str, Any] | None = None, errors: list[str] | None = None,
                status: int = 200, days: int = PREVIEW_DAYS) -> Any:
    """The board as stored, or as a proposal that names the pipeline's own stages would make it."""
    try:
        board = board_view(page_runtime(), pipeline_id, select_locale(), proposal)
    except NotFoundError:
        raise
    except ServiceError:
        board = board_view(page_runtime(), pipeline_id, select_locale())
    return _render(board, errors=errors, days=days), status


@bp.get("/pipelines")
@admin_only
def pipelines() -> Any:
    """Every connection's pipelines with their stage and gate counts, each linking to its board."""
    return render_template("admin/pipelines.html", pipelines=pipelines_overview(page_runtime()))


@bp.get(f"/pipelines/<{ID}:pipeline_id>")
@admin_only
def board(pipeline_id: int) -> Any:
    """The board of one pipeline: which fields each stage requires, in which mode, on which condition."""
    return _board_page(pipeline_id)


@bp.post(f"/pipelines/<{ID}:pipeline_id>/preview")
@admin_only
def preview(pipeline_id: int) -> Any:
    """What the posted board would block if its gates were enforced (open deals, and the moves of the chosen
    days replayed by owner and by stage), with a button to save exactly it."""
    proposal, errors = board_proposal(request.form)
    days, day_errors = preview_days(request.form)
    if errors or day_errors:  # a bad day count alone keeps the board as posted
        return _board_page(pipeline_id, None if errors else proposal, errors + day_errors, 400, days)
    try:
        result = preview_board(page_runtime(), pipeline_id, proposal, select_locale(), days)
    except NotFoundError:
        raise
    except ServiceError as exc:
        return _board_page(pipeline_id, proposal, _details(exc), exc.status, days)
    return _render(result["board"], preview=result["preview"], carried_inputs=carried(request.form), days=days)


@bp.post(f"/pipelines/<{ID}:pipeline_id>/save")
@admin_only
def save(pipeline_id: int) -> Any:
    """Save the previewed board: create, change and remove its gates at once, or nothing when one fails."""
    proposal, errors = board_proposal(request.form)
    if errors:
        return _board_page(pipeline_id, None, errors, 400)
    try:
        summary = apply_board(page_runtime(), pipeline_id, proposal)
    except NotFoundError:
        raise
    except ServiceError as exc:
        return _board_page(pipeline_id, proposal, _details(exc), exc.status)
    flash(_("The gates are saved: %(created)s created, %(changed)s changed, %(removed)s removed, %(same)s as "
            "they were.", created=len(summary["created"]), changed=len(summary["changed"]),
            removed=len(summary["removed"]), same=summary["unchanged"]), "info")
    return redirect(url_for("admin_board.board", pipeline_id=pipeline_id))
