"""HTTP hardening of every answer: a sanitized request id, security headers, no caching of API answers, and
throttling of failed authentication (never of CRM webhooks)."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service.config import Settings

# A client's X-Request-Id is echoed (and logged) only when it is this shape; anything else is replaced.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
UNTHROTTLED = ("/v1/webhooks/", "/healthz", "/readyz")


def request_id() -> str:
    """The id of the current request: the client's X-Request-Id when it is a plain token, else a new one."""
    given = request.headers.get("X-Request-Id", "")
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _before() -> None:
    g.request_id = request_id()


def _after(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or request_id()
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith("/v1/"):
        # API answers carry stored data and, for admins, webhook secrets: never kept by a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def _unthrottled() -> bool:
    return request.path.startswith(UNTHROTTLED) or not request.path.startswith("/v1/")


def configure_security(app: Flask, settings: Settings) -> None:
    """Register the request id, the response headers and the failed-authentication throttle."""
    app.before_request(_before)
    app.after_request(_after)
    if settings.auth_failures_per_minute > 0:
        # Only answers 401 count: a client presenting wrong keys is slowed, one with a good key never is.
        # Unthrottled paths are left out by a request filter, before the limiter resolves any limit (as an
        # exemption they cost each webhook ~0.1 ms).
        limiter = Limiter(get_remote_address, app=app, storage_uri=settings.redis_url or "memory://",
                          default_limits=[f"{settings.auth_failures_per_minute}/minute"],
                          default_limits_deduct_when=lambda response: response.status_code == 401,
                          headers_enabled=True, key_prefix="qualify-auth")
        limiter.request_filter(_unthrottled)
