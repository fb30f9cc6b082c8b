"""A stored connection's CRM adapter and webhook verifier, built from the registry: its decrypted settings,
the connection's rate limiter (shared by every process through the deployment's LimitStore, or process-wide in
the embedded mode), a transport that vets every address it connects to, and a token
store that saves rotated OAuth tokens durably; and the adapters a worker keeps for reuse (`SharedAdapters`). No CRM
is named here."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.base import CRMAdapter, OAuthTokens, OfflineEventSource, WebhookVerifier
from adapters.kind import ConnectionSettings
from adapters.ratelimit import LimitStore
from adapters.registry import kind_of
from adapters.safe_transport import SafeTransport
from service.models import Connection
from service.secrets import Vault
from service.unit_of_work import UnitOfWork

# Where a connection's secrets keep the secret part of the base URL an admin gave (the registry's
# split_base_url, e.g. Bitrix24's incoming-webhook code): stored encrypted, never shown.
BASE_URL_SECRETS = "base_url_secrets"


def settings_of(connection: Any, stored: dict[str, Any]) -> ConnectionSettings:
    """What the adapters know about a stored connection: its decrypted secrets, with the secret parts of its
    base URL among them."""
    secrets = {**stored, **(stored.get(BASE_URL_SECRETS) or {})}
    secrets.pop(BASE_URL_SECRETS, None)
    return ConnectionSettings(kind=connection.kind, base_url=connection.base_url, account_id=connection.account_id,
                              app_id=connection.app_id, signature_versions=tuple(connection.signature_versions or ()),
                              secrets=secrets)


def store_base_url(kind: str, url: str, secrets: dict[str, Any]) -> str:
    """The part of a CRM base URL safe to store in plain text; its secret part (if the CRM's URLs carry one)
    goes into `secrets`, replacing what an earlier base URL put there."""
    public, parts = kind_of(kind).split_base_url(url)
    if parts:
        secrets[BASE_URL_SECRETS] = dict(parts)
    else:
        secrets.pop(BASE_URL_SECRETS, None)
    return public


def tokens_of(stored: dict[str, Any]) -> OAuthTokens:
    """The OAuth tokens kept in a connection's encrypted secrets."""
    return OAuthTokens(access_token=str(stored.get("access_token", "")), refresh_token=stored.get("refresh_token"),
                       expires_at=stored.get("token_expires_at"))


class ConnectionTokenStore:
    """An adapter's TokenStore for one connection: every save is committed before it returns, so a rotated
    refresh token is never lost, and a failed refresh leaves the last good pair in place."""

    def __init__(self, uow: Callable[[], UnitOfWork], vault: Vault, connection_id: int) -> None:
        self._uow = uow
        self._vault = vault
        self._connection_id = connection_id

    def load(self) -> OAuthTokens:
        """The tokens as stored now (another worker may have rotated them)."""
        with self._uow() as uow:
            row = uow.session.get_one(Connection, self._connection_id)
            return tokens_of(self._vault.decrypt(row.credentials_encrypted))

    def save(self, tokens: OAuthTokens) -> None:
        """Store a new pair durably."""
        with self._uow() as uow:
            row = uow.session.get_one(Connection, self._connection_id)
            stored = self._vault.decrypt(row.credentials_encrypted)
            stored.update(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                          token_expires_at=tokens.expires_at)
            row.credentials_encrypted = self._vault.encrypt(stored)
            uow.commit()


def limiter_key(connection: Any) -> str:
    """Whose budget a connection's CRM calls count against: its CRM account (kind, host and account id), so
    two connections to one account share the account's limit; a connection with no account id on its own."""
    if not connection.account_id:
        return f"connection:{connection.id}"
    key = f"{connection.kind}:{httpx.URL(connection.base_url).host}:{connection.account_id}"
    # Stored keys hold 200 characters with the bucket's name; a long host name is hashed instead.
    return key if len(key) <= 120 else f"{connection.kind}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


class CRMConnector:
    """Builds the adapters and verifiers of stored connections (one per process, held by the runtime)."""

    def __init__(self, vault: Vault, uow: Callable[[], UnitOfWork], *, allow_loopback: bool,
                 webhook_max_age_seconds: int, limit_store: LimitStore | None = None) -> None:
        self._vault = vault
        self._uow = uow
        self._allow_loopback = allow_loopback
        self._max_age = webhook_max_age_seconds
        self._limit_store = limit_store

    def settings(self, connection: Any) -> ConnectionSettings:
        """The connection as the adapters see it, secrets decrypted."""
        return settings_of(connection, self._vault.decrypt(connection.credentials_encrypted))

    def adapter(self, connection: Any) -> CRMAdapter:
        """A CRM adapter for a connection model, sharing its CRM account's rate limiter with every process using
        the same limit store (in this process without one); CRMAuthError when its stored settings cannot work."""
        overrides = {bucket: (int(limit["requests"]), float(limit["seconds"]))
                     for bucket, limit in (connection.rate_limits or {}).items()}
        kind = kind_of(connection.kind)
        return kind.build_adapter(
            self.settings(connection),
            # Every request is re-checked at connect time (DNS rebinding) and pinned to the vetted address.
            transport=SafeTransport(allow_loopback=self._allow_loopback,
                                    allowed_hosts=[httpx.URL(connection.base_url).host]),
            token_store=ConnectionTokenStore(self._uow, self._vault, connection.id),
            limiter=kind.limiter(limiter_key(connection), overrides, self._limit_store),
        )

    def verifier(self, connection: Any) -> WebhookVerifier:
        """The webhook verifier of a connection model (it refuses deliveries for another account)."""
        return kind_of(connection.kind).build_verifier(self.settings(connection), self._max_age)

    def offline_source(self, connection: Any, adapter: CRMAdapter) -> OfflineEventSource | None:
        """Where the connection's CRM keeps events its webhooks may have missed, or None."""
        return kind_of(connection.kind).offline_source(self.settings(connection), adapter)


# How long a shared adapter is reused at most: what an adapter reads once and keeps (the account's currency, its
# custom fields' types) is read again at least this often, even when the connection's configuration never changes.
SHARED_ADAPTER_MAX_AGE = 300.0


@dataclass
class _Shared:
    adapter: CRMAdapter
    version: tuple[Any, ...]
    built: float
    users: int = 0
    retired: bool = False


class SharedAdapters:
    """One adapter per connection and configuration version, kept for reuse by the threads of a process (the
    worker's), so consecutive CRM calls reuse its HTTP client's kept-alive connections instead of decrypting the
    credentials and connecting anew for each piece of work.

    An adapter is replaced when its connection's configuration version changes (secrets rotated, base URL or
    limits edited, deactivated: every such edit bumps it) or after `max_age` seconds, and closed once no thread
    uses it any more; `close()` retires them all. `build` makes an adapter for a connection model."""

    def __init__(self, build: Callable[[Any], CRMAdapter], max_age: float = SHARED_ADAPTER_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._build = build
        self._max_age = max_age
        self._clock = clock
        self._entries: dict[int, _Shared] = {}
        self._lock = threading.Lock()

    @contextmanager
    def using(self, connection: Any) -> Iterator[CRMAdapter]:
        """The connection's adapter for the block (a connection model, or a row with what `build` reads and
        created_at and config_version); whatever building it raises (CRMAuthError when its stored settings
        cannot work)."""
        # created_at: SQLite may give a deleted connection's id to a new one.
        version = (connection.created_at, connection.config_version)
        with self._lock:
            entry = self._entries.get(connection.id)
            if entry is None or entry.version != version or self._clock() - entry.built > self._max_age:
                if entry is not None:
                    del self._entries[connection.id]
                    self._retire(entry)
                entry = _Shared(self._build(connection), version, self._clock())
                self._entries[connection.id] = entry
            entry.users += 1
        try:
            yield entry.adapter
        finally:
            with self._lock:
                entry.users -= 1
                if entry.retired and entry.users == 0:
                    entry.adapter.close()

    def _retire(self, entry: _Shared) -> None:
        # Called with the lock held: another thread may still be calling the CRM with it; the last one closes it.
        entry.retired = True
        if entry.users == 0:
            entry.adapter.close()

    def close(self) -> None:
        """Close every kept adapter (those in use when their last user is done)."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
            for entry in entries:
                self._retire(entry)
