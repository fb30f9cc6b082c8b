"""Exactly one scheduler: on PostgreSQL the scheduler holds a session-level advisory lock.

APScheduler 3 does not coordinate several schedulers on one job store, so every process that
would run the scheduler first asks for this lock; the others wait as hot standbys. The lock lives
as long as the database session that took it: a leader that is killed releases it at once, and a
leader whose session is gone (a restarted database, a cut connection) no longer holds it, which
`SchedulerLock.held` finds before every run (service/jobs/scheduler.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

SCHEDULER_LOCK_ID = 0x51A1  # an arbitrary, fixed advisory-lock key for "the Qualify scheduler"
log = logging.getLogger("qualify.scheduler")
# Advisory locks belong to the whole database: the lock is the pair (our key, the schema's hash), so deployments
# (or test runs) in several schemas of one database each have their own scheduler.
TRY_LOCK = text("SELECT pg_try_advisory_lock(CAST(:key AS integer), hashtext(current_schema()))")
# Whether this session still holds it: a lock on a pair of integers is listed with the first in classid, the second
# in objid and objsubid 2 (https://www.postgresql.org/docs/current/view-pg-locks.html).
HOLDS_LOCK = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
    "AND classid = CAST(CAST(:key AS integer) AS oid) AND objid = CAST(hashtext(current_schema()) AS oid) "
    "AND objsubid = 2)")


class SchedulerLock:
    """The scheduler lock of one process: taken on a database session of its own (kept while waiting, so a
    standby does not open a connection per try), checked before every run, released when that session ends.

    Thread-safe: the scheduler's job threads check it while the main thread tries or releases it. On SQLite
    (one process) it is always held."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_ID) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None
        self._held = False
        self._mutex = threading.Lock()

    @property
    def shared(self) -> bool:
        """Whether other processes compete for the lock (PostgreSQL); SQLite runs one scheduler."""
        return self._engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it or the database is unreachable
        (tried again next time on a new connection)."""
        with self._mutex:
            if not self.shared:
                self._held = True
                return True
            try:
                connection = self._session()
                self._held = bool(connection.execute(TRY_LOCK, {"key": self._key}).scalar())
                connection.commit()
            except SQLAlchemyError as exc:
                log.warning("scheduler lock: the database is unreachable (%s); trying again", type(exc).__name__)
                self._held = False
                self._drop()
            return self._held

    def held(self) -> bool:
        """Whether this process still leads: its lock session is alive and holds the lock. A session that is gone
        (the database restarted, the connection was cut or terminated) loses it for good; try_acquire again."""
        with self._mutex:
            if not self._held or not self.shared:
                return self._held
            holds = False
            if self._connection is not None:
                with contextlib.suppress(SQLAlchemyError):
                    holds = bool(self._connection.execute(HOLDS_LOCK, {"key": self._key}).scalar())
                    self._connection.commit()
            if not holds:
                self._held = False
                self._drop()
            return holds

    def release(self) -> None:
        """Give the lock up by ending its session (a standby takes it on its next try)."""
        with self._mutex:
            self._held = False
            self._drop()

    def _session(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            # Out of the pool: closing it must end the database session, which releases the lock.
            connection.detach()
            self._connection = connection
        return self._connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # the session may be gone already
                connection.close()
