"""API key use cases: bootstrap the first admin key, create more (with an optional expiry), find the role of a
presented key (noting when it was last used), list and revoke keys."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.errors import InvalidInputError, NotFoundError
from service.models import ApiKey
from service.runtime import Runtime
from service.secrets import api_key_prefix, hash_api_key, new_api_key, same_hash
from service.services.common import paginate

log = logging.getLogger("qualify.keys")

ROLES = ("admin", "manager")
# A key's last use is written at most this often, so authenticating adds no write to most requests.
LAST_USE_EVERY = timedelta(seconds=60)
MAX_EXPIRY_DAYS = 3650
SHOWN_ONCE = "This is the only time the key is shown: Qualify keeps only its hash. Store it now."
LAST_USE_CACHE = "key-last-use"  # runtime.cache entry: prefix -> when this process last wrote (or skipped) it
# Built once: every API request runs it.
KEY_QUERY = select(ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.expires_at, ApiKey.last_used_at).where(
    ApiKey.prefix == bindparam("prefix"))
# Another process may have written the same minute: the WHERE keeps every process but one from writing again.
NOTE_USE = update(ApiKey).where(
    ApiKey.prefix == bindparam("key_prefix"),
    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < bindparam("stale_before")),
).values(last_used_at=bindparam("now")).execution_options(synchronize_session=False)


def live_at(now: Any) -> ColumnElement[bool]:
    """SQL: the key is neither revoked nor expired at `now` (a datetime or a bind parameter); `key_state` in
    Python."""
    return and_(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))


class KeyInputError(InvalidInputError, ValueError):
    """A key cannot be created as asked (unknown role, expiry not in the future): 422 in the API."""


def key_state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> str:
    """`revoked`, `expired` (its expiry is now or past) or `active`."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def _expiry(runtime: Runtime, expires_at: datetime | None, expires_in_days: int | None) -> datetime | None:
    if expires_in_days is not None:
        if expires_at is not None:
            raise KeyInputError("Give either expires_at or expires_in_days, not both.")
        if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise KeyInputError(f"expires_in_days must be from 1 to {MAX_EXPIRY_DAYS}.",
                                {"expires_in_days": [f"Must be from 1 to {MAX_EXPIRY_DAYS}."]})
        return runtime.clock() + timedelta(days=expires_in_days)
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise KeyInputError("expires_at needs a time zone, such as 2027-01-31T00:00:00Z.",
                            {"expires_at": ["Give a time zone, such as Z for UTC."]})
    if expires_at <= runtime.clock():
        raise KeyInputError("expires_at is not in the future: such a key would never work.",
                            {"expires_at": ["Must be in the future."]})
    return expires_at


def _add_key(session: Session, role: str, name: str, expires_at: datetime | None = None) -> tuple[str, ApiKey]:
    if role not in ROLES:
        raise KeyInputError(f"role must be one of {ROLES}", {"role": [f"Must be one of: {', '.join(ROLES)}."]})
    key, prefix, digest = new_api_key()
    row = ApiKey(name=name, prefix=prefix, key_hash=digest, role=role, expires_at=expires_at)
    session.add(row)
    return key, row


def create_key(runtime: Runtime, role: str, name: str, expires_at: datetime | None = None, *,
               expires_in_days: int | None = None) -> str:
    """Store a new key (hashed) and return it in full; it is shown only this once. It stops working at
    `expires_at` (or `expires_in_days` from now) when given. KeyInputError (a ValueError) for an unknown role or
    an expiry that is not in the future."""
    key: str = issue_key(runtime, role, name, expires_at, expires_in_days=expires_in_days)["key"]
    return key


def issue_key(runtime: Runtime, role: str, name: str, expires_at: datetime | None = None, *,
              expires_in_days: int | None = None) -> dict[str, Any]:
    """Like `create_key`, but return the new key as `list_keys` shows it, plus the full `key` (shown only
    this once)."""
    expiry = _expiry(runtime, expires_at, expires_in_days)
    with runtime.uow() as uow:
        key, row = _add_key(uow.session, role, name, expiry)
        uow.session.flush()
        shown = _shown(row, runtime.clock())
        uow.commit()
    return {**shown, "key": key, "warnings": [SHOWN_ONCE]}


def bootstrap_admin_key(runtime: Runtime) -> str | None:
    """Create the first admin key if there is no live (neither revoked nor expired) admin key yet; None when
    one exists."""
    with runtime.uow() as uow:
        exists = uow.session.scalars(
            select(ApiKey.id).where(ApiKey.role == "admin", live_at(runtime.clock())).limit(1)
        ).first()
        if exists is not None:
            return None
        key, _ = _add_key(uow.session, "admin", "bootstrap")
        uow.commit()
    return key


def role_for_key(runtime: Runtime, key: str) -> str | None:
    """The role of a presented API key, or None when it is malformed, unknown, revoked or expired. Read from
    the database on every call, so a revoked or expired key stops working at once in every process. Notes the
    key's last use (see `note_key_use`)."""
    prefix = api_key_prefix(key)
    if prefix is None:
        return None
    with runtime.read_uow() as uow:
        row = uow.session.execute(KEY_QUERY, {"prefix": prefix}).first()
    if row is None or not same_hash(row.key_hash, hash_api_key(key)):
        return None
    now = runtime.clock()
    if key_state(row.revoked_at, row.expires_at, now) != "active":
        return None
    note_key_use(runtime, prefix, now, stored=row.last_used_at)
    return str(row.role)


def note_key_use(runtime: Runtime, prefix: str, now: datetime | None = None, *,
                 stored: datetime | None = None) -> None:
    """Record that the key with this prefix was used now: written at most once a minute per key (skipped while
    this process wrote it, or `stored`, its last use as read, is less than a minute old). Never raises: a
    failed write is logged and the request goes on."""
    now = now or runtime.clock()
    written: dict[str, datetime] = runtime.cache.setdefault(LAST_USE_CACHE, {})
    last = written.get(prefix)
    if stored is not None and (last is None or stored > last):
        last = stored
    if last is not None and now - last < LAST_USE_EVERY:
        return
    # Remembered before the write: a failing database is not retried on every request.
    written[prefix] = now
    try:
        with runtime.uow() as uow:
            uow.session.execute(NOTE_USE, {"key_prefix": prefix, "stale_before": now - LAST_USE_EVERY, "now": now})
            uow.commit()
    except SQLAlchemyError as exc:
        log.warning("could not record the last use of API key %s: %s", prefix, type(exc).__name__)


def revoke_key(runtime: Runtime, prefix: str) -> bool:
    """Revoke the live key with this public prefix (the part after `qk_`, as `list_keys` shows it); False when
    there is no such key or it is revoked already. An expired key may still be revoked."""
    with runtime.uow() as uow:
        row = uow.session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).first()
        if row is None:
            return False
        row.revoked_at = runtime.clock()
        uow.commit()
    return True


def revoke_key_or_404(runtime: Runtime, prefix: str) -> None:
    """`revoke_key`, raising NotFoundError when no key that is not revoked yet has this prefix."""
    if not revoke_key(runtime, prefix):
        raise NotFoundError(f"There is no live key {prefix[:40]!r}: nothing was revoked (see GET /v1/keys).")


def _shown(row: ApiKey, now: datetime) -> dict[str, Any]:
    return {"prefix": row.prefix, "name": row.name, "role": row.role, "created_at": row.created_at,
            "last_used_at": row.last_used_at, "expires_at": row.expires_at, "revoked_at": row.revoked_at,
            "state": key_state(row.revoked_at, row.expires_at, now)}


def list_keys(runtime: Runtime) -> list[dict[str, Any]]:
    """Every key without its secret, oldest first: prefix, name, role, created, last used, expiry and revoked
    times, and its `state` (active, expired or revoked)."""
    now = runtime.clock()
    with runtime.read_uow() as uow:
        return [_shown(k, now) for k in uow.session.scalars(select(ApiKey).order_by(ApiKey.id))]


def key_page(runtime: Runtime, page: int, page_size: int) -> dict[str, Any]:
    """One page of `list_keys`, with the total count."""
    now = runtime.clock()
    with runtime.read_uow() as uow:
        found = paginate(uow.session, select(ApiKey).order_by(ApiKey.id), page, page_size)
        return {**found, "items": [_shown(k, now) for k in found["items"]]}
