"""Webhook intake: verify, store raw and deduplicated, answer fast. Processing is the worker's job.

The hot path reads nothing before it writes: each process keeps, per connection, the version it last read with
that version's verifier; the delivery is verified and parsed outside any transaction, and the write checks that
the connection is still active at that version (service/services/intake_store.py). The write is one transaction
on a DB-API connection the process keeps for intake alone (service/services/intake_driver.py; no pool
checkout, no ORM): on PostgreSQL one prepared statement that commits by itself, on a SQLite file the inserts
between BEGIN IMMEDIATE and COMMIT, with the writers of every web process queued on a lock that wakes the next
one at once (SQLite's busy handler polls with sleeps of up to 100 ms); in-memory SQLite writes through the
engine. Deliveries that threads of one process store at the same moment share one transaction (group commit,
service/services/intake_group.py): one commit and one turn of the write lock for the lot. When the connection
changed, or a cached verifier refuses the delivery, the version is read again and the delivery verified anew, so
the answers are those of a read before every delivery. The answer is sent only once the commit holding the
delivery returned; a database or driver error is a StorageError (503).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: the process lock alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import WebhookEvent, WebhookVerifier
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.kind import CRMKind
from adapters.registry import kind_of
from service import metrics
from service.errors import NotFoundError, StorageError
from service.models import Connection
from service.runtime import Runtime
from service.services import intake_driver
from service.services.intake_group import GroupCommit
from service.services.intake_store import read_again_if_too_early, store

log = logging.getLogger("qualify.intake")

# Built once: read when a process first sees a connection, and again when it changed.
VERSION_QUERY = select(Connection.id, Connection.config_version, Connection.created_at, Connection.active).where(
    Connection.id == bindparam("id"))
_CURRENT = "intake:current"  # runtime.cache key prefix: the version this process last read, per connection
_WRITE_LOCK = "intake:sqlite-write-lock"  # runtime.cache key: (this process's lock, the shared lock file)
_GROUP = "intake:group"  # runtime.cache key: the process's GroupCommit of deliveries
ATTEMPTS = 3  # writes refused because the connection changed since it was read, before answering 503
_STORAGE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, *intake_driver.DRIVER_ERRORS)  # answered 503


class _Target(NamedTuple):
    """A connection's version row as last read, with the verifier and registry entry of that version."""

    version: Any
    verifier: WebhookVerifier
    kind: CRMKind


def _load(runtime: Runtime, connection_id: int) -> _Target:
    """Read the connection's version (NotFoundError when there is no active one) and get its verifier, cached per
    configuration version; remembered as the version this process last read."""
    with runtime.read_uow() as uow:
        row = uow.session.connection().execute(VERSION_QUERY, {"id": connection_id}).first()
        if row is None or not row.active:
            runtime.cache.pop((_CURRENT, connection_id), None)
            raise NotFoundError(f"No active connection {connection_id}.")

        def build() -> tuple[WebhookVerifier, CRMKind]:
            connection = uow.session.get_one(Connection, connection_id)
            return runtime.verifier(connection), kind_of(connection.kind)

        verifier, kind = runtime.cached_for(row, "verifier", build)
    target = _Target(row, verifier, kind)
    runtime.cache[(_CURRENT, connection_id)] = target
    return target


def receive_webhook(
    runtime: Runtime, connection_id: int, *, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> dict[str, int]:
    """Verify and store a delivery; raises WebhookAuthError/WebhookFormatError (nothing stored),
    NotFoundError for an unknown or inactive connection, StorageError when the database could not be read or
    written (or the connection kept changing meanwhile)."""
    try:
        target, confirmed = runtime.cache.get((_CURRENT, connection_id)), False
        for _ in range(ATTEMPTS):
            if target is None:
                target, confirmed = _load(runtime, connection_id), True
            try:
                target.verifier.verify(method=method, url=url, headers=headers, body=body,
                                       now=runtime.clock().timestamp())
                events = target.verifier.parse(body, headers)
            except (WebhookAuthError, WebhookFormatError):
                fresh = None if confirmed else _load(runtime, connection_id)
                if fresh is None or fresh.version == target.version:
                    raise
                target, confirmed = fresh, True
                continue
            kept = {name: value for name, value in headers.items() if name.lower() in target.kind.kept_headers}
            # The raw body is kept for replays and audits, without the secrets some CRMs send in it.
            stored = _write(runtime, target, events, kept, target.kind.redact_body(body, headers))
            if stored is not None:
                break
            target = None  # the connection changed since this process read it
        else:
            raise StorageError("The connection kept changing while the delivery was stored; retry later.")
    except _STORAGE_ERRORS as exc:
        log.exception("could not store webhook delivery for connection %s", connection_id)
        raise StorageError("The delivery could not be stored; retry later.") from exc
    metrics.webhook_stored(target.kind.name, connection_id, len(events), stored)
    if stored:
        runtime.wake_worker()
    return {"received": len(events), "stored": stored, "duplicates": len(events) - stored}


def _write(runtime: Runtime, target: _Target, events: list[WebhookEvent], kept: Mapping[str, str],
           body: bytes) -> int | None:
    """Store the delivery, committed, if the connection is still at `target`'s version; how many events were
    new, or None (nothing written) when it changed."""
    connection_id, now = target.version.id, runtime.clock()
    guard = {"config_version": target.version.config_version, "created_at": target.version.created_at}
    driven = intake_driver.backend_of(runtime)
    item = intake_driver.delivery(connection_id, events, kept, body, now, guard)  # written by this thread or another
    if driven == "postgresql":
        result = _group(runtime).submit(item)
        if result is None:
            return None
        new, repeated = result
        again = 0
        if repeated:
            # In a transaction of its own: a crash before it commits leaves the delivery unacknowledged, and
            # the CRM's repetition of it decides the same.
            with runtime.engine.begin() as conn:
                again = read_again_if_too_early(conn, connection_id, repeated, now)
    elif driven == "sqlite":
        written = _group(runtime).submit(item)
        if written is None:
            return None
        new, again = written
    else:  # in-memory SQLite: the engine's one database
        with _sqlite_writer(runtime), runtime.engine.connect() as conn:
            result = store(conn, connection_id, events, kept, body, now, guard)
            if result is None:
                return None  # rolled back as the connection closes
            new, repeated = result
            again = read_again_if_too_early(conn, connection_id, repeated, now) if repeated else 0
            conn.commit()
    if again:
        runtime.wake_worker()
    return new


def _group(runtime: Runtime) -> GroupCommit[intake_driver.Delivery, Any]:
    """The runtime's group commit of deliveries (intake_group), made on first use: on PostgreSQL the batch is one
    transaction on a kept connection; on a SQLite file, one transaction under the intake write lock."""
    group = runtime.cache.get(_GROUP)
    if group is None:
        with runtime.cache_lock:
            group = runtime.cache.get(_GROUP)
            if group is None:
                group = runtime.cache[_GROUP] = _new_group(runtime)
    return group  # type: ignore[no-any-return]


def _new_group(runtime: Runtime) -> GroupCommit[intake_driver.Delivery, Any]:
    if intake_driver.backend_of(runtime) == "postgresql":
        return GroupCommit(lambda items: intake_driver.store_postgresql_batch(runtime, items),
                           lambda item: intake_driver.store_postgresql_one(runtime, item))

    def write_batch(items: Sequence[intake_driver.Delivery]) -> list[Any]:
        with _sqlite_writer(runtime):
            return intake_driver.store_sqlite_batch(runtime, items)
    return GroupCommit(write_batch, lambda item: write_batch([item])[0])


@dataclass
class _WriteLock:
    """This process's intake write lock and its descriptor of the shared lock file (None: no file)."""

    held: threading.Lock
    fd: int | None

    def close(self) -> None:
        """Close the lock file's descriptor (Runtime.dispose)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@contextmanager
def _sqlite_writer(runtime: Runtime) -> Iterator[None]:
    """Hold this process's intake write lock and, for a database file, an exclusive lock on `<file>-intake.lock`
    shared with the other processes: a waiting writer is woken as soon as the lock is free, where SQLite's busy
    handler would sleep (1, 2, 5 ... 100 ms) and let the writers of one process starve another's."""
    lock, path = runtime.cache.get(_WRITE_LOCK), runtime.engine.url.database
    if lock is None:
        with runtime.cache_lock:
            lock = runtime.cache.get(_WRITE_LOCK)
            if lock is None:
                fd = None
                if fcntl is not None and path and path != ":memory:" and not path.startswith("file:"):
                    fd = os.open(f"{path}-intake.lock", os.O_CREAT | os.O_RDWR, 0o600)
                lock = runtime.cache[_WRITE_LOCK] = _WriteLock(threading.Lock(), fd)
    with lock.held:
        if lock.fd is None or fcntl is None:
            yield
            return
        fcntl.flock(lock.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fd, fcntl.LOCK_UN)


def store_events(runtime: Runtime, session: Any, connection_id: int, events: list[WebhookEvent],
                 kept: Mapping[str, str], body: bytes) -> int:
    """Insert the raw delivery (with the headers worth keeping) and its new events, in the session's
    transaction; a delivery that brought nothing new is not kept. Returns how many events were new."""
    conn, now = session.connection(), runtime.clock()
    result = store(conn, connection_id, events, kept, body, now)
    assert result is not None  # unguarded
    new, repeated = result
    if repeated and read_again_if_too_early(conn, connection_id, repeated, now):
        runtime.wake_worker()
    return new
