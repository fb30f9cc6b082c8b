"""Bearer API-key authentication and the admin/manager role rule."""

from __future__ import annotations

from flask import current_app, g, request

from service.services.keys import role_for_key

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Endpoints a manager may call with a write method: they change nothing.
MANAGER_WRITE_ENDPOINTS = frozenset({"gate.GateCheck", "personas.score"})


class AuthProblem(Exception):
    """Authentication or authorization failed; carries the status and a detail for the body."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def authorize() -> None:
    """before_request hook: 401 without a valid key, 403 when the role may not do this."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthProblem(401, "Send an API key as `Authorization: Bearer <key>`.")
    role = role_for_key(current_app.extensions["qualify"], key.strip())
    if role is None:
        raise AuthProblem(401, "The API key is unknown or revoked, or it has expired.")
    g.role = role
    if role == "admin" or request.method in READ_METHODS or request.endpoint in MANAGER_WRITE_ENDPOINTS:
        return
    raise AuthProblem(403, "This key has the `manager` role, which can read but not change configuration.")
