"""Admin page of CRM events that need attention (/admin/events): the failed ones with their error and a
Replay button each, and those waiting for another try. Replaying is the API's use case
(POST /v1/events/{id}/replay: services/events.py:replay_event)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError, fields, validate

from schemas.common import PageArgsSchema
from service.errors import ConflictError, NotFoundError
from service.services.event_admin import SHOWN, event_queue
from service.services.events import replay_event
from service.web.auth import admin_only
from service.web.blueprints import page_blueprint
from service.web.errors import error_page
from service.web.forms import ReplayEventForm
from service.web.report_links import query_args

bp = page_blueprint("admin_events", __name__, url_prefix="/admin")
PAGE_SIZE = 25


class EventQueueArgs(PageArgsSchema):
    """Which list and which page of it."""

    show = fields.String(load_default="failed", validate=validate.OneOf(tuple(SHOWN)))
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=200))


@bp.errorhandler(ValidationError)
def invalid_args(exc: ValidationError) -> Response:
    """A list or page the page does not have: a 400 page that says which."""
    return error_page(400, _("There is no such list of events"),
                      _("Follow the links of the events page: it lists failed events or events waiting for a retry, "
                        "a page at a time."))


@bp.get("/events")
@admin_only
def events() -> Any:
    """Failed events (or those waiting for a retry), newest first, a page at a time."""
    args = query_args(EventQueueArgs())
    queue = event_queue(current_app.extensions["qualify"], args["show"], args["page"], args["page_size"])
    return render_template("admin/events.html", queue=queue)


@bp.post("/events/<int(max=2147483647):event_id>/replay")
@admin_only
def replay(event_id: int) -> Any:
    """Queue a failed event to be processed again, then back to the list with a message saying what happened."""
    form = ReplayEventForm()
    try:
        replay_event(current_app.extensions["qualify"], event_id)
        flash(_("Event %(id)s is queued again: the worker processes it within seconds. It leaves this list; if it "
                "fails again, it comes back with its new error.", id=event_id), "info")
    except NotFoundError:
        flash(_("There is no event %(id)s: it may have been removed by retention.", id=event_id), "warning")
    except ConflictError:
        flash(_("Event %(id)s is already waiting to be processed: nothing to replay.", id=event_id), "warning")
    page = form.page.data if form.validate_on_submit() and (form.page.data or "").isdigit() else "1"
    return redirect(url_for("admin_events.events", show="failed", page=page))
