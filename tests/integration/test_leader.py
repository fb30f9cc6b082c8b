"""Only one process leads the scheduler on PostgreSQL; SQLite always leads (one process)."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from service.db import make_engine
from service.jobs.leader import SchedulerLock


def test_a_second_scheduler_waits_while_the_first_holds_the_lock(engine: Engine) -> None:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    first, second = SchedulerLock(engine), SchedulerLock(other)
    try:
        assert first.try_acquire()
        if engine.dialect.name == "postgresql":
            assert not second.try_acquire()
            first.release()  # ends its session; the server frees the lock as it sees the session end
            deadline = time.monotonic() + 5
            while not second.try_acquire() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert second.held()
        else:
            assert second.try_acquire()
    finally:
        second.release()
        first.release()
        other.dispose()
