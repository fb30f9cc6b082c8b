"""Bearer API-key authentication and the admin/manager role rule."""

from __future__ import annotations

import time

from flask import current_app, g, request
from sqlalchemy import select

from service.models import ApiKey
from service.secrets import api_key_prefix, hash_api_key, same_hash

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Endpoints a manager may call with a write method: they change nothing.
MANAGER_WRITE_ENDPOINTS = frozenset({"gate.GateCheck", "personas.score"})
KEY_CACHE_SECONDS = 5.0


class AuthProblem(Exception):
    """Authentication or authorization failed; carries the status and a detail for the body."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _role_for(key: str) -> str | None:
    runtime = current_app.extensions["qualify"]
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    digest = hash_api_key(key)
    cache_key = ("api_key", digest)
    cached = runtime.cache.get(cache_key)
    if cached and cached[1] > time.monotonic():
        return str(cached[0])
    with runtime.read_uow() as uow:
        row = uow.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        role = row.role if row and row.revoked_at is None and same_hash(row.key_hash, digest) else None
    if role:
        runtime.cache[cache_key] = (role, time.monotonic() + KEY_CACHE_SECONDS)
    return role


def authorize() -> None:
    """before_request hook: 401 without a valid key, 403 when the role may not do this."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthProblem(401, "Send an API key as `Authorization: Bearer <key>`.")
    role = _role_for(key.strip())
    if role is None:
        raise AuthProblem(401, "The API key is unknown or revoked.")
    g.role = role
    if role == "admin" or request.method in READ_METHODS or request.endpoint in MANAGER_WRITE_ENDPOINTS:
        return
    raise AuthProblem(403, "This key has the `manager` role, which can read but not change configuration.")
