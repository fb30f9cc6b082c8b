"""Readable HTML error pages for browsers, while the API keeps its problem+json answers.

Errors raised by a page are handled by its blueprint. A path that matches no route is answered by the
app-wide handler; `configure_error_pages` wraps it so that a browser asking for a page (Accept prefers
HTML, outside the API's paths) gets a page, and everything else exactly the API's problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.connection_close import error_headers
from service.errors import ServiceError

log = logging.getLogger("qualify.web")
API_PATHS = ("/v1/", "/v1", "/openapi.json", "/healthz", "/readyz")
TITLES = {
    400: _l("The request could not be understood"),
    403: _l("This page is for administrators"),
    404: _l("Page not found"),
    405: _l("This action is not available here"),
    413: _l("What you sent is too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}
EXPLANATIONS = {
    400: _l("Go back, reload the page and try again."),
    403: _l("Your key has the manager role: it can read reports but not change the configuration. Ask an "
            "administrator if you need more."),
    404: _l("The address may be mistyped, or the page was moved."),
    405: _l("Go back and use the buttons of the page."),
    413: _l("Send less at once."),
    429: _l("Wait a minute and try again."),
    500: _l("The error was logged. Quote the request id below when you report it."),
}
CSRF_TITLE = _l("The form has expired or did not come from this site")
CSRF_EXPLANATION = _l("Nothing was changed. Go back, reload the page and send the form again.")


def error_page(status: int, title: Any = None, explanation: Any = None,
               headers: dict[str, str] | None = None, details: list[str] | None = None) -> Response:
    """An HTML page for an error status, with the request id to quote (and `details`, a list of what to
    correct, when given)."""
    known = status if status in TITLES else (500 if status >= 500 else 400)
    if status >= 500:
        # The database may be what failed: do not look the signed-in user up to draw the header.
        g.setdefault("web_user", None)
    body = render_template("error.html", status=status, title=title or TITLES[known],
                           explanation=explanation or EXPLANATIONS[known], details=details or [],
                           request_id=g.get("request_id"))
    response = make_response(body, status)
    response.headers.update(headers or {})
    return response


def http_error_page(exc: HTTPException) -> Response:
    """An HTTP error of a page (CSRF failure, 403, 404, 405, 413...) as HTML."""
    status = exc.code or 500
    if isinstance(exc, CSRFError):
        return error_page(400, CSRF_TITLE, CSRF_EXPLANATION)
    return error_page(status, headers=error_headers(exc))


def unexpected_error_page(exc: Exception) -> Response:
    """Any other error of a page: a use case's error with its status, else a logged generic 500."""
    if isinstance(exc, HTTPException):
        return http_error_page(exc)
    if isinstance(exc, ServiceError):
        return error_page(exc.status)
    log.exception("unhandled error on a page, request_id=%s", g.get("request_id"))
    return error_page(500)


def browser_outside_the_api() -> bool:
    """Whether an unrouted request comes from a browser asking for a page rather than from an API client."""
    if request.url_rule is not None or request.path.startswith(API_PATHS):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "application/problem+json", "text/html"])
    return best == "text/html"


def configure_error_pages(app: Flask) -> None:
    """Answer unrouted browser requests with the HTML 404/405 page; the API's handler answers the rest."""
    api_handler: Callable[[HTTPException], Any] | None = app.error_handler_spec[None][None].get(HTTPException)

    def dispatch(exc: HTTPException) -> Any:
        if api_handler is None or browser_outside_the_api():
            return http_error_page(exc)
        return api_handler(exc)

    app.register_error_handler(HTTPException, dispatch)
