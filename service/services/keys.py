"""API key use cases: bootstrap the first admin key, create more, find the role of a presented key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from service.models import ApiKey
from service.runtime import Runtime
from service.secrets import api_key_prefix, hash_api_key, new_api_key, same_hash

ROLES = ("admin", "manager")
# Built once: every API request runs it.
KEY_QUERY = select(ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at).where(ApiKey.prefix == bindparam("prefix"))


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
    """The role of a presented API key, or None when it is malformed, unknown or revoked. Read from the
    database on every call, so a revoked key stops working at once in every process."""
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    with runtime.read_uow() as uow:
        row = uow.session.execute(KEY_QUERY, {"prefix": prefix}).first()
    if row is None or row.revoked_at is not None or not same_hash(row.key_hash, hash_api_key(key)):
        return None
    return str(row.role)


def revoke_key(runtime: Runtime, prefix: str) -> bool:
    """Revoke the live key with this public prefix (the part after `qk_`, as `list_keys` shows it);
    False when there is no such live key."""
    with runtime.uow() as uow:
        row = uow.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).first()
        if row is None:
            return False
        row.revoked_at = runtime.clock()
        uow.commit()
    return True


def list_keys(runtime: Runtime) -> list[dict[str, Any]]:
    """Every key without its secret: prefix, name, role, created and revoked times, oldest first."""
    with runtime.read_uow() as uow:
        return [{"prefix": k.prefix, "name": k.name, "role": k.role, "created_at": k.created_at,
                 "revoked_at": k.revoked_at} for k in uow.session.scalars(select(ApiKey).order_by(ApiKey.id))]
