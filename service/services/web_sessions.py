"""Browser sessions over API keys: sign in with a key, re-check the signed-in key on every page, and the
secret that signs the session cookie.

A session never holds the key itself, only its public prefix: `signed_in_user` reads that key's row on
every request, so revoking a key (or its expiry) signs its browser sessions out at once, in every process.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from service.models import ApiKey
from service.runtime import Runtime
from service.secrets import api_key_prefix, hash_api_key, load_or_create_keys, same_hash
from service.services.keys import live_at, note_key_use

# Changing the label signs every browser session out (and nothing else).
SESSION_LABEL = b"qualify web session cookie v1"
USER_QUERY = select(ApiKey.prefix, ApiKey.name, ApiKey.role, ApiKey.key_hash).where(
    ApiKey.prefix == bindparam("prefix"), live_at(bindparam("now")))


@dataclass(frozen=True)
class WebUser:
    """Who is signed in: the key's public prefix, its name and its role (`admin` or `manager`)."""

    prefix: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Whether this user may configure (the API's `admin` role)."""
        return self.role == "admin"


def sign_in(runtime: Runtime, key: str) -> WebUser | None:
    """The user behind a presented API key, or None when the key is malformed, unknown, revoked or expired (the
    same check as the API's, constant-time on the hash)."""
    prefix = api_key_prefix(key.strip())
    if prefix is None:
        return None
    with runtime.read_uow() as uow:
        row = uow.session.execute(USER_QUERY, {"prefix": prefix, "now": runtime.clock()}).first()
    if row is None or not same_hash(row.key_hash, hash_api_key(key.strip())):
        return None
    note_key_use(runtime, prefix)
    return WebUser(prefix=row.prefix, name=row.name, role=row.role)


def signed_in_user(runtime: Runtime, prefix: str) -> WebUser | None:
    """The user of a session holding this key prefix, or None once that key is revoked, expired or gone."""
    with runtime.read_uow() as uow:
        row = uow.session.execute(USER_QUERY, {"prefix": prefix, "now": runtime.clock()}).first()
    if row is None:
        return None
    note_key_use(runtime, prefix)
    return WebUser(prefix=row.prefix, name=row.name, role=row.role)


def session_secrets(runtime: Runtime) -> list[str]:
    """Secrets that sign session cookies, current first: an HMAC of a fixed label with each Fernet key of
    the runtime (QUALIFY_SECRET_KEY, newest first, or the embedded instance/secret.key). The same in every
    process sharing those keys, so any web replica reads any other's cookies; after a key rotation the
    older keys still verify existing cookies. The Fernet keys themselves never sign anything."""
    settings = runtime.settings
    keys = load_or_create_keys(settings.secret_key, settings.instance_path)
    return [hmac.new(key.encode(), SESSION_LABEL, hashlib.sha256).hexdigest() for key in keys]
