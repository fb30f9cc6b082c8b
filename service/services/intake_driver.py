"""Intake's own database connections: each web process keeps a few DB-API connections, used only to store
webhook deliveries, so that the hot path pays neither a pool checkout (pre-ping, isolation level set and
reset) nor SQLAlchemy's per-statement work.

- PostgreSQL: a psycopg connection in autocommit mode, opened with the engine's connect arguments (host,
  database, user, options, application_name ...), running intake_store.ONE_STATEMENT as a server-side prepared
  statement: one round trip that commits by itself.
- SQLite file: a sqlite3 connection to the engine's file with service/db.py's PRAGMAs, running the statements
  of intake_store (compiled once for the engine's dialect, their values converted by the same SQLAlchemy types,
  so rows are stored exactly as the ORM stores them) between BEGIN IMMEDIATE and COMMIT. The caller holds the
  intake write lock. In-memory SQLite cannot be opened twice: intake.py keeps SQLAlchemy's path there.

Each process keeps a few idle connections; a delivery takes one and gives it back (a forked process opens its own
and never touches its parent's). Any driver error (DRIVER_ERRORS) closes the connection instead of keeping it:
the delivery is answered 503 and the next one connects anew. On PostgreSQL a connection found cut (one kept
across a restart or an idle timeout) drops every kept one and the delivery is tried once more on a new one, as
the pool's pre-ping would have done. Runtime.dispose closes the idle connections (its loop over the cache
entries' `close`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import psycopg
from sqlalchemy import Engine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.base import WebhookEvent
from service.db import UTCDateTime, _sqlite_pragmas
from service.log_context import current_request_id
from service.models import EventStatus
from service.runtime import Runtime
from service.services.intake_store import (
    DELETE_DELIVERY,
    EVENTS,
    GUARDED_DELIVERY,
    ONE_STATEMENT,
    event_row,
    one_statement_params,
    too_early,
)

DRIVER_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, sqlite3.Error)
_KEPT = "intake:driver"  # runtime.cache key of the runtime's _Kept

# ONE_STATEMENT's :name placeholders in psycopg's %(name)s style (the pattern is SQLAlchemy text()'s own).
_PG_STATEMENT = re.sub(r"(?<![:\w\\]):(\w+)(?!:)", r"%(\1)s", ONE_STATEMENT.text)
_EVENT_COLUMNS = [*event_row(0, WebhookEvent(delivery_key="", object_id="", kind="", occurred_at=datetime.min,
                                             raw={})), "delivery_id", "request_id"]
_FOUND = ("SELECT id, status, occurred_at, started_at, processed_at FROM inbound_events "
          "WHERE connection_id = ? AND delivery_key IN ({})")
_QUEUE_AGAIN = "UPDATE inbound_events SET status = ?, available_at = ?, processed_at = NULL WHERE id IN ({})"
_READ_AGAIN = "UPDATE inbound_events SET available_at = ? WHERE id IN ({})"


def backend(engine: Engine) -> str | None:
    """"postgresql" or "sqlite" when intake writes through this module on `engine`, None for SQLAlchemy's path
    (in-memory SQLite, whose database a second connection would not see)."""
    if engine.dialect.name == "postgresql":
        return "postgresql"
    database = engine.url.database
    if (engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:")
            and not engine.url.query.get("uri")):
        return "sqlite"
    return None


class Delivery(NamedTuple):
    """One delivery to store, with the request id of the thread that received it (a batch is written by another
    thread)."""

    connection_id: int
    events: list[WebhookEvent]
    kept: Mapping[str, str]
    body: bytes
    now: datetime
    guard: Mapping[str, Any]
    request_id: str | None


def delivery(connection_id: int, events: list[WebhookEvent], kept: Mapping[str, str], body: bytes, now: datetime,
             guard: Mapping[str, Any]) -> Delivery:
    """A Delivery received by the calling thread (its request id)."""
    return Delivery(connection_id, events, kept, body, now, guard, current_request_id())


def store_postgresql(runtime: Runtime, connection_id: int, events: list[WebhookEvent], kept: Mapping[str, str],
                     body: bytes, now: datetime, guard: Mapping[str, Any]) -> tuple[int, list[str]] | None:
    """Store the delivery, committed, when the connection is still at the `guard`'s version; (events new, keys of
    the repeated ones), or None (nothing written) when it changed. Raises a DRIVER_ERRORS on a failure."""
    return store_postgresql_one(runtime, delivery(connection_id, events, kept, body, now, guard))


def store_postgresql_one(runtime: Runtime, item: Delivery) -> tuple[int, list[str]] | None:
    """store_postgresql of a Delivery: one statement that commits by itself."""
    params, keys = _pg_params(item)
    kept_connections = _kept(runtime)
    try:
        with kept_connections.connection() as conn:
            row = conn.execute(_PG_STATEMENT, params, prepare=True).fetchone()
    except psycopg.OperationalError:
        # A kept connection may have been cut while it waited (PostgreSQL restarted, an idle timeout), and the
        # others were opened before the same cut: all are dropped and the delivery is tried once on a new one.
        # The write is idempotent (a delivery key is stored once): had the first attempt committed before its
        # answer was lost, the second finds its events stored and reports them as duplicates.
        kept_connections.close()
        with kept_connections.connection(fresh=True) as conn:
            row = conn.execute(_PG_STATEMENT, params, prepare=True).fetchone()
    return _pg_result(row, keys)


def store_postgresql_batch(runtime: Runtime, items: Sequence[Delivery]) -> list[tuple[int, list[str]] | None]:
    """store_postgresql of several deliveries in one transaction (one commit), their results in order. Raises a
    DRIVER_ERRORS on a failure: nothing of the batch is stored then."""
    prepared = [_pg_params(item) for item in items]
    # executemany pipelines the statements (one round trip for the batch); one result set per delivery.
    with _kept(runtime).connection() as conn, conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(_PG_STATEMENT, [params for params, _ in prepared], returning=True)
        rows = [cursor.fetchone()]
        while cursor.nextset():
            rows.append(cursor.fetchone())
    return [_pg_result(row, keys) for row, (_, keys) in zip(rows, prepared, strict=True)]


def _pg_params(item: Delivery) -> tuple[dict[str, Any], list[str]]:
    params, keys = one_statement_params(item.connection_id, item.events, item.kept, item.body, item.now, item.guard)
    return {**params, "request_id": item.request_id}, keys


def _pg_result(row: Any, keys: list[str]) -> tuple[int, list[str]] | None:
    current, new_keys = row
    if not current:
        return None
    new = set(new_keys)
    return len(new), [key for key in keys if key not in new]


def store_sqlite(runtime: Runtime, connection_id: int, events: list[WebhookEvent], kept: Mapping[str, str],
                 body: bytes, now: datetime, guard: Mapping[str, Any]) -> tuple[int, int] | None:
    """Store the delivery in one transaction, committed, when the connection is still at the `guard`'s version;
    (events new, repeated events queued to be read again), or None (nothing written) when it changed. The caller
    holds the intake write lock. Raises a DRIVER_ERRORS on a failure (rolled back)."""
    return store_sqlite_batch(runtime, [delivery(connection_id, events, kept, body, now, guard)])[0]


def store_sqlite_batch(runtime: Runtime, items: Sequence[Delivery]) -> list[tuple[int, int] | None]:
    """store_sqlite of several deliveries in one transaction (one commit), their results in order. The caller
    holds the intake write lock. Raises a DRIVER_ERRORS on a failure: nothing of the batch is stored then."""
    kept_connections = _kept(runtime)
    statements = kept_connections.statements
    assert statements is not None  # a SQLite file's
    with kept_connections.connection() as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [_store_sqlite(conn, statements, item) for item in items]
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        # A batch whose every delivery found its connection changed wrote nothing: rolled back as before.
        conn.execute("COMMIT" if any(r is not None for r in results) else "ROLLBACK")
        return results


class _Compiled(NamedTuple):
    """A statement compiled for a dialect: its SQL, the names of its positional parameters and, by position, the
    bind processors of their types."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters for `values`, converted as SQLAlchemy converts them."""
        found = [values[name] for name in self.names]
        for index, process in self.processors:
            found[index] = process(found[index])
        return found


def _compile(statement: ClauseElement, dialect: Any, column_keys: list[str] | None = None) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=column_keys))
    names = tuple(compiled.positiontup or ())
    processors = []
    for index, name in enumerate(names):
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process))
    return _Compiled(compiled.string, names, tuple(processors))


@dataclass(frozen=True)
class _SqliteStatements:
    """intake_store's statements compiled for a SQLite dialect, and its conversions of a UTC time."""

    delivery: _Compiled
    events: _Compiled
    delete: _Compiled
    time_bind: Callable[[Any], Any]
    time_result: Callable[[Any], Any]

    @classmethod
    def of(cls, dialect: Any) -> _SqliteStatements:
        """Compile them for `dialect`."""
        times = UTCDateTime().dialect_impl(dialect)
        time_result = times.result_processor(dialect, None)
        time_bind = times.bind_processor(dialect)
        assert time_result is not None and time_bind is not None
        return cls(_compile(GUARDED_DELIVERY, dialect), _compile(EVENTS["sqlite"], dialect, _EVENT_COLUMNS),
                   _compile(DELETE_DELIVERY, dialect), time_bind, time_result)


class _Found(NamedTuple):
    id: int
    status: str
    occurred_at: datetime
    started_at: datetime | None
    processed_at: datetime | None


def _store_sqlite(conn: sqlite3.Connection, sql: _SqliteStatements, item: Delivery) -> tuple[int, int] | None:
    """intake_store.store with a guard, and read_again_if_too_early, in `conn`'s transaction."""
    connection_id, events, kept, body, now, guard, request_id = item
    inserted = conn.execute(sql.delivery.sql, sql.delivery.params({
        "connection_id": connection_id, "received_at": now, "body": body, "headers": kept,
        "event_count": len(events), **guard})).fetchall()
    if not inserted:
        return None
    delivery_id = inserted[0][0]
    rows = {e.delivery_key: {**event_row(connection_id, e), "received_at": now, "delivery_id": delivery_id,
                             "request_id": request_id} for e in events}
    new_keys: set[str] = set()
    for row in rows.values():  # ON CONFLICT makes a duplicate a no-op that returns nothing
        new_keys.update(key for (key,) in conn.execute(sql.events.sql, sql.events.params(row)).fetchall())
    if not new_keys:
        conn.execute(sql.delete.sql, sql.delete.params({"delivery_id": delivery_id}))
    repeated = [key for key in rows if key not in new_keys]
    return len(new_keys), _read_again_if_too_early(conn, sql, connection_id, repeated, now) if repeated else 0


def _read_again_if_too_early(conn: sqlite3.Connection, sql: _SqliteStatements, connection_id: int, keys: list[str],
                             now: datetime) -> int:
    """intake_store.read_again_if_too_early in `conn`'s transaction (rare: only for repeated events)."""
    found = [_Found(id_, status, *(sql.time_result(value) for value in times)) for id_, status, *times in
             conn.execute(_FOUND.format(", ".join("?" * len(keys))), [connection_id, *keys]).fetchall()]
    finished, reading = too_early(found)
    at = sql.time_bind(now)
    if finished:
        conn.execute(_QUEUE_AGAIN.format(", ".join("?" * len(finished))), [str(EventStatus.RECEIVED), at, *finished])
    if reading:  # events.py reads an event again when a delivery came in while it was processed
        conn.execute(_READ_AGAIN.format(", ".join("?" * len(reading))), [at, *reading])
    return len(finished) + len(reading)


_INHERITED: list[Any] = []  # connections a forked process got from its parent: never closed, never collected
IDLE_KEPT = 16  # idle connections a process keeps at most (gunicorn: one per thread; more are closed on return)


class _Kept:
    """The intake connections one runtime's process keeps: a list of idle ones, each taken by one delivery at a
    time and given back after it (list.pop and append are atomic, so no lock on the hot path). A thread-per-request
    server (the embedded server) reuses them as gunicorn's threads do. `close` (Runtime.dispose) closes them."""

    def __init__(self, engine: Engine) -> None:
        self.backend = backend(engine)
        self.open: Callable[[], Any] = _opener(engine)
        self.statements = _SqliteStatements.of(engine.dialect) if self.backend == "sqlite" else None
        self.idle: list[Any] = []
        self.pid = os.getpid()
        self.generation = 0  # raised by close: a connection taken before it is closed when given back

    @contextlib.contextmanager
    def connection(self, fresh: bool = False) -> Iterator[Any]:
        """An open connection for one delivery (`fresh`: a new one, not a kept one); closed instead of kept when
        a DRIVER_ERRORS leaves the block."""
        if self.pid != os.getpid():  # forked: the parent's connections are its own, never closed here
            _INHERITED.extend(self.idle)
            self.idle, self.pid = [], os.getpid()
        generation = self.generation
        try:
            conn = self.open() if fresh else self.idle.pop()
        except IndexError:
            conn = self.open()
        try:
            yield conn
        except DRIVER_ERRORS:
            _close(conn)
            raise
        if generation != self.generation or len(self.idle) >= IDLE_KEPT:
            _close(conn)
        else:
            self.idle.append(conn)

    def close(self) -> None:
        """Close the idle connections (those in use are closed as they are given back)."""
        self.generation += 1
        while self.idle:
            _close(self.idle.pop())


def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def backend_of(runtime: Runtime) -> str | None:
    """`backend` of the runtime's engine, decided once per runtime (not per delivery)."""
    return _kept(runtime).backend


def _kept(runtime: Runtime) -> _Kept:
    kept = runtime.cache.get(_KEPT)
    if kept is None:
        with runtime.cache_lock:
            kept = runtime.cache.get(_KEPT)
            if kept is None:
                kept = runtime.cache[_KEPT] = _Kept(runtime.engine)
    return kept  # type: ignore[no-any-return]


def _opener(engine: Engine) -> Callable[[], Any]:
    """How to open a connection like the engine's (its URL's connect arguments; make_engine passes none else on
    PostgreSQL, and on SQLite the timeout and PRAGMAs repeated here)."""
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    if engine.dialect.name == "postgresql":
        cparams.pop("context", None)  # SQLAlchemy's adapters: intake passes JSON as text

        def open_postgresql() -> Any:
            return psycopg.connect(*cargs, **cparams, autocommit=True)
        return open_postgresql

    def open_sqlite() -> Any:
        # check_same_thread=False: a connection serves whichever thread takes it next.
        conn = sqlite3.connect(cargs[0], timeout=10, isolation_level=None, check_same_thread=False)
        _sqlite_pragmas(conn, None)
        return conn
    return open_sqlite
