"""POST /v1/webhooks/{connection_id} answered in front of the Flask app.

A CRM may post hundreds of deliveries a second, and each answer is just: verify, store, acknowledge. Flask's
request machinery around that (flask-smorest's wrappers, the session cookie, Flask-WTF's and Flask-Limiter's
hooks, URL matching, its Response objects) cost more CPU than the use case itself, so `WebhookRoute`, a WSGI
layer between ProxyFix and Flask, sends the POSTs to the canonical delivery URL straight to `receive_webhook`
and hands every other request to Flask unchanged. Flask still routes the same URL to the documented view
(service/api/webhooks.py), which answers what this layer leaves (another method: 405; `/v1/webhooks/007`).

The answers are those of that view: the same use case and URL for the signature, the JSON acknowledgement,
the problem+json of service/api/errors.py (413 closing the connection), the request id (echoed when it is a
plain token, bound to the log lines, stored on the events), the security headers and `Cache-Control:
no-store`, and each answer counted (received, or rejected by status and reason). No session, no CSRF check and
no failed-authentication throttle: none ever applies to a CRM's delivery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from schemas.common import MAX_ID
from service import log_context
from service import metrics as counted
from service.api.common import read_body
from service.api.errors import PROBLEM, UNEXPECTED, Problem, problem_document, problem_of
from service.api.security import api_answer_headers, sanitized_request_id
from service.api.webhooks import delivery_url
from service.runtime import Runtime
from service.services.intake import receive_webhook
from service.services.webhook_health import count_rejection, rejection_reason

log = logging.getLogger("qualify.api")
# The URL Flask would route to the view with the same id (its converter: int, 1..MAX_ID); any other spelling
# (leading zeros, a trailing slash) is left to Flask.
DELIVERY_PATH = re.compile(r"/v1/webhooks/([1-9][0-9]{0,9})")
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WebhookRoute:
    """WSGI middleware: webhook deliveries to `receive_webhook`, everything else to `inner` (the Flask app)."""

    def __init__(self, app: Flask, inner: WSGIApp) -> None:
        self.app, self.inner = app, inner
        # Per process, not per answer: the headers every acknowledgement carries besides its request id.
        self._plain_headers = api_answer_headers(secure=False)
        self._secure_headers = api_answer_headers(secure=True)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            match = DELIVERY_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None and int(match[1]) <= MAX_ID:
                return self.receive(int(match[1]), environ, start_response)
        return self.inner(environ, start_response)

    def receive(self, connection_id: int, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Verify, store and acknowledge one delivery; every error answered as problem+json."""
        config = self.app.config
        runtime: Runtime = self.app.extensions["qualify"]
        request_id = sanitized_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        log_context.clear()
        log_context.bind(request_id=request_id)
        try:
            req = Request(environ)
            req.max_content_length = limit = config["MAX_CONTENT_LENGTH"]
            try:
                body = read_body(req, limit)
                answer = receive_webhook(runtime, connection_id, method="POST",
                                         url=delivery_url(req, runtime.settings.public_url),
                                         headers=request_headers(environ), body=body)
            except Exception as exc:  # every error becomes its problem+json answer, as Flask's handlers give it
                described = problem_of(exc)
                if described is None:
                    log.exception("unhandled error, request_id=%s", request_id)
                    described = Problem(500, UNEXPECTED)
                return self._problem(described, req, request_id, start_response, connection_id)
            counted.webhook_answered(200, None)
            payload = (self._dumps(answer) + "\n").encode()
            return self._answer("200 OK", "application/json", payload, environ, request_id, (), start_response)
        finally:
            log_context.clear()

    def _problem(self, described: Problem, req: Request, request_id: str,
                 start_response: StartResponse, connection_id: int) -> list[bytes]:
        reasons = (described.errors or {}).get("reason")
        reason = reasons[0] if isinstance(reasons, list) and reasons else None
        counted.webhook_answered(described.status, reason if described.status in (400, 401) else None)
        # Refusals an admin can act on (a wrong secret, a malformed body) are shown per connection; none for 200.
        rejected = rejection_reason(described.status, reason)
        if rejected is not None:
            runtime: Runtime = self.app.extensions["qualify"]
            count_rejection(runtime, connection_id, rejected, runtime.clock())
        payload = self.app.json.dumps(problem_document(described, req.path, request_id)).encode()
        status = f"{described.status} {HTTP_STATUS_CODES.get(described.status, 'Unknown').upper()}"
        extra = tuple((described.headers or {}).items())
        return self._answer(status, PROBLEM, payload, req.environ, request_id, extra, start_response)

    def _answer(self, status: str, content_type: str, payload: bytes, environ: dict[str, Any], request_id: str,
                extra: Iterable[tuple[str, str]], start_response: StartResponse) -> list[bytes]:
        secure = environ.get("wsgi.url_scheme") == "https"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(payload))), *extra,
                   ("X-Request-Id", request_id), *(self._secure_headers if secure else self._plain_headers)]
        start_response(status, headers)
        return [payload]

    def _dumps(self, value: Any) -> str:
        """JSON as Flask's jsonify writes it (compact unless the app is in debug mode)."""
        provider: Any = self.app.json
        compact = provider.compact or (provider.compact is None and not self.app.debug)
        return str(provider.dumps(value, **({"indent": None, "separators": (",", ":")} if compact else {"indent": 2})))


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as `dict(Request(environ).headers.items())` gives them (werkzeug's EnvironHeaders:
    HTTP_* variables and a non-empty CONTENT_TYPE / CONTENT_LENGTH, named as it names them)."""
    found = {}
    for key, value in environ.items():
        if (key.startswith("HTTP_") and key not in _BODY_HEADERS) or (key in _BODY_VARIABLES and value):
            found[_header_name(key)] = value
    return found


_BODY_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})
_BODY_VARIABLES = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


@lru_cache(maxsize=512)
def _header_name(key: str) -> str:
    # A CRM sends the same few headers every time: each name is spelled once.
    return (key[5:] if key.startswith("HTTP_") else key).replace("_", "-").title()


def configure_webhook_route(app: Flask) -> None:
    """Answer webhook deliveries in front of Flask (before ProxyFix wraps the app: the signature is checked
    against the URL the CRM called)."""
    app.wsgi_app = WebhookRoute(app, app.wsgi_app)  # type: ignore[method-assign]
