"""The process-wide runtime: settings, database, vault and CRM adapter factory."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from adapters.base import CRMAdapter, WebhookVerifier
from adapters.ratelimit import LimitStore
from service.config import Settings
from service.crm import CRMConnector, SharedAdapters
from service.db import make_engine, make_session_factory, utcnow
from service.limit_stores import limit_store_for
from service.secrets import Vault, load_or_create_keys
from service.unit_of_work import UnitOfWork

T = TypeVar("T")
SHARED_ADAPTERS = "shared-adapters"  # the cache entry holding the SharedAdapters


@dataclass
class Runtime:
    """Everything a use case needs besides its arguments; one per process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Any]
    vault: Vault
    read_session_factory: sessionmaker[Any] | None = None
    # Where CRM rate limiters count for every process (service/limit_stores.py); None: in this process only.
    limit_store: LimitStore | None = None
    clock: Callable[[], datetime] = utcnow
    cache: dict[Any, Any] = field(default_factory=dict)
    cache_lock: threading.Lock = field(default_factory=threading.Lock)
    wakeup: threading.Event = field(default_factory=threading.Event)

    def uow(self) -> UnitOfWork:
        """A new unit of work."""
        return UnitOfWork(self.session_factory)

    def read_uow(self) -> UnitOfWork:
        """A unit of work for reading only (on SQLite it never takes the write lock)."""
        return UnitOfWork(self.read_session_factory or self.session_factory)

    def secrets(self, connection: Any) -> dict[str, Any]:
        """A connection's decrypted secrets."""
        return self.vault.decrypt(connection.credentials_encrypted)

    @property
    def connector(self) -> CRMConnector:
        """Builds the CRM adapters and webhook verifiers of stored connections."""
        return CRMConnector(self.vault, self.uow, allow_loopback=self.settings.allow_loopback_crm,
                            webhook_max_age_seconds=self.settings.webhook_max_age_seconds,
                            limit_store=self.limit_store)

    def adapter(self, connection: Any) -> CRMAdapter:
        """A CRM adapter for a connection model, sharing that connection's rate limiter (see CRMConnector)."""
        return self.connector.adapter(connection)

    def shared_adapter(self, connection: Any) -> AbstractContextManager[CRMAdapter]:
        """The connection's CRM adapter kept for reuse by this process (service.crm.SharedAdapters), for a `with`
        block: never close it. For the worker's many short uses of one connection; `adapter()` for a use that owns
        its adapter (a sync, a request)."""
        shared = self.cache.get(SHARED_ADAPTERS)
        if shared is None:
            with self.cache_lock:
                shared = self.cache.setdefault(SHARED_ADAPTERS, SharedAdapters(self.adapter))
        return cast(SharedAdapters, shared).using(connection)

    def verifier(self, connection: Any) -> WebhookVerifier:
        """The webhook verifier for a connection model."""
        return self.connector.verifier(connection)

    def cached_for(self, connection: Any, kind: str, build: Callable[[], T]) -> T:
        """The `kind` of compiled configuration cached for the connection's current configuration version,
        built on first use; entries of older versions of the same connection are evicted.

        `connection` is the model or a row with id, created_at and config_version. created_at is part of the
        key because SQLite may give a deleted connection's id to a new one."""
        key = (kind, connection.id, connection.created_at, connection.config_version)
        cached = self.cache.get(key)
        if cached is not None:
            return cast(T, cached)
        value = build()
        with self.cache_lock:
            for old in [k for k in list(self.cache) if isinstance(k, tuple) and k[:2] == key[:2]]:
                self.cache.pop(old, None)
            self.cache[key] = value
        return value

    def wake_worker(self) -> None:
        """Tell an embedded worker that new work arrived, so it need not wait for its next poll."""
        self.wakeup.set()

    def dispose(self) -> None:
        """Close every pooled database connection, and what cached entries hold open (their `close`)."""
        for value in list(self.cache.values()):
            closer = getattr(value, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()
        if self.read_session_factory is not None and self.read_session_factory.kw.get("bind") is not None:
            self.read_session_factory.kw["bind"].dispose()


def build_runtime(settings: Settings, engine: Engine | None = None) -> Runtime:
    """Wire a runtime from settings (creates the instance folder for the embedded mode)."""
    from pathlib import Path

    settings.check_deployment()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    if settings.thread_switch_seconds > 0:
        # Sync fetches the next CRM page on a thread while this one is written. With Python's default 5 ms
        # switch interval, a writer busy in Python keeps the GIL that long after the CRM's answer arrived
        # (the convoy effect), and every request of the page chain waits for it.
        sys.setswitchinterval(settings.thread_switch_seconds)
    engine = engine or make_engine(settings.database_url)
    reader = None
    if engine.dialect.name == "sqlite":
        reader = make_session_factory(make_engine(engine.url.render_as_string(hide_password=False), read_only=True))
    vault = Vault(load_or_create_keys(settings.secret_key, settings.instance_path))
    return Runtime(settings=settings, engine=engine, session_factory=make_session_factory(engine), vault=vault,
                   read_session_factory=reader, limit_store=limit_store_for(settings, engine))
