"""The one error envelope of the API: RFC 9457 problem+json for every 4xx/5xx.

Each known error is described once (`problem_of`: status, detail, errors, headers); Flask's handlers render that
description in the request's context, and the webhook route (service/api/webhook_route.py), which answers
without Flask's request machinery, renders the same description with `problem_document`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NamedTuple

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from adapters.errors import CRMError, WebhookAuthError, WebhookFormatError
from service.api.auth import AuthProblem
from service.connection_close import error_headers
from service.domain.errors import DomainError
from service.errors import ServiceError

PROBLEM = "application/problem+json"
UNEXPECTED = "Something went wrong; quote the request_id when reporting it."
log = logging.getLogger("qualify.api")


class Problem(NamedTuple):
    """What a problem answer says: its status, detail, `errors` member and extra response headers."""

    status: int
    detail: str | None = None
    errors: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def problem_document(problem: Problem, instance: str, request_id: str) -> dict[str, Any]:
    """The problem+json body; with type about:blank the title is the status phrase (RFC 9457 4.2.1)."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(problem.status).phrase,
                            "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    body["instance"] = instance
    body["request_id"] = request_id
    return body


def problem(status: int, detail: str | None = None, errors: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A problem+json response for the current request."""
    return render(Problem(status, detail, errors, headers))


def render(described: Problem) -> Response:
    """`described` as a problem+json response for the current request."""
    body = problem_document(described, request.path, g.get("request_id") or uuid.uuid4().hex)
    response = Response(json.dumps(body), status=described.status, mimetype=PROBLEM)
    for name, value in (described.headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into `a.b[0].c -> [msg]`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            flat.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def http_problem(exc: HTTPException) -> Problem:
    """Werkzeug/flask-smorest HTTP errors (404, 405, 413, 422 from schemas...)."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = None
    detail = exc.description
    if "messages" in data:
        # flask-smorest puts schema errors under messages[location]
        errors = {}
        for location, messages in data["messages"].items():
            errors.update(_flatten(messages, "" if location in ("json", "form") else str(location)))
        detail = ("The request body is not valid JSON." if status == 400
                  else "The request did not pass validation: see `errors`.")
    return Problem(status, detail, errors, error_headers(exc))


def service_problem(exc: ServiceError) -> Problem:
    """Use-case errors carry their own status."""
    return Problem(exc.status, exc.detail, exc.errors)


def domain_problem(exc: DomainError) -> Problem:
    """Domain rule violations in configuration input."""
    return Problem(422, str(exc), getattr(exc, "errors", None) or None)


def crm_problem(exc: CRMError) -> Problem:
    """A CRM call made on behalf of the request failed."""
    return Problem(502, f"The CRM answered: {exc.vendor_message or exc.message}")


def webhook_auth_problem(exc: WebhookAuthError) -> Problem:
    """A delivery that is not authentic (bad or missing signature, stale timestamp, another account)."""
    return Problem(401, f"Webhook not authentic: {exc.detail}", {"reason": [exc.reason]})


def webhook_format_problem(exc: WebhookFormatError) -> Problem:
    """An authentic delivery whose body cannot be understood."""
    return Problem(400, f"Webhook body not understood: {exc.detail}", {"reason": [exc.reason]})


def auth_problem(exc: AuthProblem) -> Problem:
    """Missing/unknown key (401) or a role that may not (403)."""
    headers = {"WWW-Authenticate": 'Bearer realm="qualify"'} if exc.status == 401 else {}
    return Problem(exc.status, exc.detail, headers=headers)


# Each error class the API maps, with its description; the most specific class wins, as in Flask's choice.
DESCRIBED: dict[type[Exception], Callable[[Any], Problem]] = {
    AuthProblem: auth_problem,
    HTTPException: http_problem,
    ServiceError: service_problem,
    DomainError: domain_problem,
    CRMError: crm_problem,
    WebhookAuthError: webhook_auth_problem,
    WebhookFormatError: webhook_format_problem,
}


def problem_of(exc: BaseException) -> Problem | None:
    """The answer to a known error, or None for an unexpected one (which gets a logged generic 500)."""
    for cls in type(exc).__mro__:
        describe = DESCRIBED.get(cls)
        if describe is not None:
            return describe(exc)
    return None


def handle_http(exc: HTTPException) -> Response:
    """Werkzeug/flask-smorest HTTP errors as problem+json."""
    return render(http_problem(exc))


def handle_unexpected(exc: Exception) -> Response:
    """Anything else: log with the request id, answer a generic 500 without internals."""
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    log.exception("unhandled error, request_id=%s", g.get("request_id"))
    return problem(500, UNEXPECTED)


def _handler(describe: Callable[[Any], Problem]) -> Callable[[Any], Response]:
    def handle(exc: Any) -> Response:
        return render(describe(exc))

    return handle


def configure_errors(app: Flask) -> None:
    """Register the handlers that turn every error into problem+json."""
    for cls, describe in DESCRIBED.items():
        app.register_error_handler(cls, handle_http if cls is HTTPException else _handler(describe))
    app.register_error_handler(Exception, handle_unexpected)
