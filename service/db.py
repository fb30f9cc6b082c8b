"""Engine, session factory and the declarative base. Nothing is built at import time."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL + busy timeout: readers never block the writer, writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
    # instead of failing with "database is locked" when a read transaction upgrades.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _owner_only(path: str | None) -> None:
    """Create the SQLite database file readable and writable by its owner only (0600) before SQLite opens it,
    and narrow an existing one: it holds webhook payloads and encrypted credentials. SQLite gives its -wal and
    -shm files the database file's permissions.

    An existing file is never opened: closing any descriptor of a file drops every POSIX lock this process
    holds on it, SQLite's shared lock of its open WAL connections included. Another process's last close
    then takes this process for gone, checkpoints and deletes the -wal and -shm files under its connections,
    and from there on the two processes see different databases."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the pragmas the embedded SQLite mode needs.

    On SQLite a `read_only` engine begins deferred transactions, so readers never queue behind
    writers; the default engine begins IMMEDIATE transactions for writing use cases.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        _owner_only(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        if not read_only:
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Any]:
    """A session factory bound to `engine`; sessions do not expire objects on commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(engine: Engine) -> bool:
    """Whether the engine talks to PostgreSQL (enables SKIP LOCKED and advisory locks)."""
    return engine.dialect.name == "postgresql"


def utc_text(value: datetime) -> str:
    """An aware time as ISO text in UTC, as UTCDateTime stores it (ValueError if naive)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat()


def relax_commit(session: Session) -> None:
    """Let the session's current transaction commit without waiting for its WAL flush (PostgreSQL's
    `synchronous_commit = off`, for this transaction only). Only for transactions whose loss in a
    database crash costs nothing: the data can be read again and nothing outside the database acted on
    it. A crash never leaves such a transaction half applied; SQLite (WAL, synchronous=NORMAL) already
    commits this way."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
