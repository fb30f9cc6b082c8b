"""API key use cases: bootstrap the first admin key, create more."""

from __future__ import annotations

from sqlalchemy import select

from service.models import ApiKey
from service.secrets import new_api_key
from service.unit_of_work import UnitOfWork

ROLES = ("admin", "manager")


def create_key(uow: UnitOfWork, role: str, name: str) -> str:
    """Store a new key (hashed) and return it in full; it is shown only this once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    key, prefix, digest = new_api_key()
    uow.session.add(ApiKey(name=name, prefix=prefix, key_hash=digest, role=role))
    return key


def bootstrap_admin_key(uow: UnitOfWork) -> str | None:
    """Create the first admin key if there is no live admin key yet; None when one exists."""
    exists = uow.session.scalars(
        select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).limit(1)
    ).first()
    if exists is not None:
        return None
    return create_key(uow, "admin", "bootstrap")
