"""The one error envelope of the API: RFC 9457 problem+json for every 4xx/5xx."""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

from adapters.errors import CRMError, WebhookAuthError, WebhookFormatError
from service.api.auth import AuthProblem
from service.connection_close import error_headers
from service.domain.errors import DomainError
from service.errors import ServiceError

PROBLEM = "application/problem+json"
log = logging.getLogger("qualify.api")


def problem(status: int, detail: str | None = None, errors: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A problem+json response; with type about:blank the title is the status phrase (RFC 9457 4.2.1)."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body["instance"] = request.path
    body["request_id"] = g.get("request_id") or uuid.uuid4().hex
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for name, value in (headers or {}).items():
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


def handle_http(exc: HTTPException) -> Response:
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
    return problem(status, detail, errors, error_headers(exc))


def handle_service(exc: ServiceError) -> Response:
    """Use-case errors carry their own status."""
    return problem(exc.status, exc.detail, exc.errors)


def handle_domain(exc: DomainError) -> Response:
    """Domain rule violations in configuration input."""
    return problem(422, str(exc), getattr(exc, "errors", None) or None)


def handle_crm(exc: CRMError) -> Response:
    """A CRM call made on behalf of the request failed."""
    detail = f"The CRM answered: {exc.vendor_message or exc.message}"
    return problem(502, detail)


def handle_webhook_auth(exc: WebhookAuthError) -> Response:
    """A delivery that is not authentic (bad or missing signature, stale timestamp, another account)."""
    return problem(401, f"Webhook not authentic: {exc.detail}", {"reason": [exc.reason]})


def handle_webhook_format(exc: WebhookFormatError) -> Response:
    """An authentic delivery whose body cannot be understood."""
    return problem(400, f"Webhook body not understood: {exc.detail}", {"reason": [exc.reason]})


def handle_unexpected(exc: Exception) -> Response:
    """Anything else: log with the request id, answer a generic 500 without internals."""
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    log.exception("unhandled error, request_id=%s", g.get("request_id"))
    return problem(500, "Something went wrong; quote the request_id when reporting it.")


def handle_auth(exc: AuthProblem) -> Response:
    """Missing/unknown key (401) or a role that may not (403)."""
    headers = {"WWW-Authenticate": 'Bearer realm="qualify"'} if exc.status == 401 else {}
    return problem(exc.status, exc.detail, headers=headers)


def configure_errors(app: Flask) -> None:
    """Register the handlers that turn every error into problem+json."""

    app.register_error_handler(AuthProblem, handle_auth)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(ServiceError, handle_service)
    app.register_error_handler(DomainError, handle_domain)
    app.register_error_handler(CRMError, handle_crm)
    app.register_error_handler(WebhookAuthError, handle_webhook_auth)
    app.register_error_handler(WebhookFormatError, handle_webhook_format)
    app.register_error_handler(Exception, handle_unexpected)
