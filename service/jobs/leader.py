"""Exactly one scheduler: on PostgreSQL the scheduler holds a session-level advisory lock.

APScheduler 3 does not coordinate several schedulers on one job store, so every process that
would run the scheduler first asks for this lock; the others wait as hot standbys.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, text

SCHEDULER_LOCK_ID = 0x51A1  # an arbitrary, fixed advisory-lock key for "the Qualify scheduler"


def try_lead(engine: Engine) -> Connection | None:
    """Take the scheduler lock; the returned connection holds it until closed. None when another
    process leads. SQLite runs everything in one process, so it always leads there."""
    connection = engine.connect()
    if engine.dialect.name != "postgresql":
        return connection
    # Out of the pool: closing it must end the database session, which releases the lock.
    connection.detach()
    if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_ID}).scalar():
        connection.commit()
        return connection
    connection.close()
    return None


def wait_to_lead(engine: Engine, stop: threading.Event, poll_seconds: float = 5.0) -> Connection | None:
    """Block until this process leads (returns the lock-holding connection) or `stop` is set (None)."""
    while not stop.is_set():
        connection = try_lead(engine)
        if connection is not None:
            return connection
        stop.wait(poll_seconds)
    return None
