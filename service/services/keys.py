"""API key use cases: bootstrap the first admin key, create more, find the role of a presented key."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import ApiKey
from service.runtime import Runtime
from service.secrets import api_key_prefix, hash_api_key, new_api_key, same_hash

ROLES = ("admin", "manager")
KEY_CACHE_SECONDS = 5.0


def _add_key(session: Session, role: str, name: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    key, prefix, digest = new_api_key()
    session.add(ApiKey(name=name, prefix=prefix, key_hash=digest, role=role))
    return key


def create_key(runtime: Runtime, role: str, name: str) -> str:
    """Store a new key (hashed) and return it in full; it is shown only this once. ValueError for an
    unknown role."""
    with runtime.uow() as uow:
        key = _add_key(uow.session, role, name)
        uow.commit()
    return key


def bootstrap_admin_key(runtime: Runtime) -> str | None:
    """Create the first admin key if there is no live admin key yet; None when one exists."""
    with runtime.uow() as uow:
        exists = uow.session.scalars(
            select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).limit(1)
        ).first()
        if exists is not None:
            return None
        key = _add_key(uow.session, "admin", "bootstrap")
        uow.commit()
    return key


def role_for_key(runtime: Runtime, key: str) -> str | None:
    """The role of a presented API key, or None when it is malformed, unknown or revoked."""
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
