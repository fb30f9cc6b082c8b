"""The one way to make a blueprint of pages, so every area gets the same guards: CSRF on every form, HTML
error pages, the signed-in user in templates, and headers that keep pages out of caches and frames."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from service.runtime import Runtime
from service.web.errors import http_error_page, unexpected_error_page

# Pages load only what Qualify serves: no inline script or style, no other origin, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A database id in a page's path: a positive 32-bit integer (anything else is a 404 page, never a 500).
ID = "int(min=1, max=2147483647)"


def _protect_forms() -> None:
    # CSRFProtect is not checking by default (the JSON API and the CRM webhooks must not need a token):
    # each page blueprint asks for the check itself. A failure raises CSRFError, shown as a 400 page.
    if request.method in UNSAFE_METHODS:
        current_app.extensions["csrf"].protect()


def _page_headers(response: Response) -> Response:
    if request.endpoint == "web.static":
        return response
    # Set before the app-wide security headers, which only fill what is missing.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Flask-WTF checks the Referer of forms posted over https: same-origin keeps it on our own requests.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def page_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A Flask blueprint for HTML pages (templates in service/web/templates) with the guards above."""
    blueprint = Blueprint(name, import_name, template_folder="templates", **options)
    blueprint.before_request(_protect_forms)
    blueprint.after_request(_page_headers)
    blueprint.register_error_handler(HTTPException, http_error_page)
    blueprint.register_error_handler(Exception, unexpected_error_page)
    return blueprint


def page_runtime() -> Runtime:
    """The runtime (database, settings, clock) of the app serving the current page."""
    runtime: Runtime = current_app.extensions["qualify"]
    return runtime
