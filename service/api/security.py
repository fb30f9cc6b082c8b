"""HTTP hardening of every answer: a sanitized request id, security headers, no caching of API answers, and
throttling of failed authentication (never of CRM webhooks)."""

from __future__ import annotations

import os
import re

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
# API answers carry stored data and, for admins, webhook secrets: never kept by a cache.
API_CACHE_CONTROL = ("Cache-Control", "no-store")
UNTHROTTLED = ("/v1/webhooks/", "/healthz", "/readyz")


def sanitized_request_id(given: str) -> str:
    """`given` (a client's X-Request-Id) when it is a plain token, else a new id."""
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()  # as random as uuid4, a fifth the CPU


def request_id() -> str:
    """The id of the current request: the client's X-Request-Id when it is a plain token, else a new one."""
    return sanitized_request_id(request.headers.get("X-Request-Id", ""))


def api_answer_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers every /v1 answer carries besides its request id (the webhook route sends them as they are)."""
    headers = list(SECURITY_HEADERS.items())
    if secure:
        headers.append(("Strict-Transport-Security", HSTS))
    headers.append(API_CACHE_CONTROL)
    return headers


def _before() -> None:
    g.request_id = request_id()


def _after(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or request_id()
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith("/v1/"):
        response.headers[API_CACHE_CONTROL[0]] = API_CACHE_CONTROL[1]
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
        # exemption they cost each webhook ~0.1 ms). Deliveries themselves never reach Flask (or the limiter):
        # service/api/webhook_route.py answers them.
        limiter = Limiter(get_remote_address, app=app, storage_uri=settings.redis_url or "memory://",
                          default_limits=[f"{settings.auth_failures_per_minute}/minute"],
                          default_limits_deduct_when=lambda response: response.status_code == 401,
                          headers_enabled=True, key_prefix="qualify-auth")
        limiter.request_filter(_unthrottled)
