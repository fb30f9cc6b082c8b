"""The deal page (/deals/<id>), for managers and administrators: what a deal lacks for the gates ahead, how it
fits the personas and who moved it where, from one use case."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template
from flask_babel import gettext as _

from service.errors import NotFoundError
from service.services.deal_page import deal_page
from service.web.auth import signed_in
from service.web.blueprints import page_blueprint
from service.web.errors import error_page
from service.web.i18n import select_locale

bp = page_blueprint("deal_pages", __name__)
MAX_ID = 2**31 - 1  # record ids are 32-bit integers on PostgreSQL


@bp.errorhandler(NotFoundError)
def no_such_deal(exc: NotFoundError) -> Response:
    """A deal id Qualify does not know: a 404 page that says so."""
    return error_page(404, _("There is no such deal"),
                      _("Qualify has no deal with this number: the link may be wrong, or the deal was removed."))


@bp.get(f"/deals/<int(max={MAX_ID}):record_id>")
@signed_in
def deal(record_id: int) -> Any:
    """A deal's fields, its completeness towards each gate ahead, its persona scores with reasons and next
    questions, and its moves with who made them and what Qualify decided."""
    page = deal_page(current_app.extensions["qualify"], record_id, select_locale())
    return render_template("deals/deal.html", page=page)
