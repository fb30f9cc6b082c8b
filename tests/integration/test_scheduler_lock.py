"""The scheduler lock is checked, not assumed: a leader whose lock session is gone (here terminated by the
database, as after a restart or a cut connection) stops leading at its next check, and takes the lock again only
when it is free. The lock is per schema, so deployments sharing one database do not share a leader. SQLite runs
one process, which always leads."""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid

import pytest
from sqlalchemy import Engine, make_url, text

from service.db import make_engine
from service.jobs.leader import SchedulerLock
from service.jobs.scheduler import run_scheduler
from service.runtime import Runtime
from tests.conftest import PG_URL
from tests.e2e.conftest import wait_until


def _terminate_lock_session(engine: Engine, key: int) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :key"),
            {"key": key})


def test_given_the_lock_session_is_terminated_then_the_leader_no_longer_holds_it_and_another_takes_it(
        engine: Engine) -> None:
    key = 0x7E57  # not the real scheduler's key, so a scheduler running elsewhere is never disturbed
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))
    first, second = SchedulerLock(engine, key), SchedulerLock(other_engine, key)
    try:
        assert first.try_acquire()
        assert first.held()
        if engine.dialect.name != "postgresql":
            assert second.try_acquire()  # one process on SQLite: nothing to compete for
            return
        assert not second.try_acquire()
        _terminate_lock_session(engine, key)

        assert not first.held()
        assert second.try_acquire() and second.held()
        assert not first.try_acquire()  # on a new session, and refused: the other one leads now
    finally:
        first.release()
        second.release()
        other_engine.dispose()


def test_given_a_leading_scheduler_when_its_lock_session_is_cut_then_it_stops_leading_and_leads_again(
        engine: Engine, runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("one process always leads on SQLite")
    runtime.settings = dataclasses.replace(runtime.settings, scheduler_tick_seconds=0.2)
    lock = SchedulerLock(engine, 0x7E58)
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(runtime, stop, lock))
    caplog.set_level(logging.INFO, logger="qualify.scheduler")
    thread.start()
    try:
        wait_until(lambda: "leading the scheduler" in caplog.text)
        _terminate_lock_session(engine, 0x7E58)
        wait_until(lambda: "no longer leading" in caplog.text or "no longer holds" in caplog.text)
        wait_until(lambda: caplog.text.count("leading the scheduler") >= 2)  # the lock was free: it leads again
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert not lock.held()


def test_given_two_deployments_in_two_schemas_of_one_database_then_each_has_its_own_leader(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    schema = f"qt_other_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    other = make_engine(make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
                        .render_as_string(hide_password=False))
    here, there = SchedulerLock(engine, 0x7E59), SchedulerLock(other, 0x7E59)
    try:
        assert here.try_acquire() and there.try_acquire()
        assert here.held() and there.held()
    finally:
        here.release()
        there.release()
        other.dispose()
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}"'))
