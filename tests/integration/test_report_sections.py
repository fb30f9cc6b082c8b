"""A report's sections see one view of the database: on PostgreSQL they run side by side on several connections
sharing one exported snapshot, so a commit made while they run is seen by none of them."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.models import WorkerHeartbeat
from service.runtime import Runtime
from service.services.reports.sections import run_sections

AT = datetime(2026, 12, 4, tzinfo=UTC)


def _beats(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(WorkerHeartbeat)) or 0)


@pytest.mark.parametrize("connections", [1, 3])
def test_given_a_commit_while_sections_run_then_every_section_sees_the_data_as_it_was(
        runtime: Runtime, connections: int) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, report_connections=connections)
    side_by_side = runtime.engine.dialect.name == "postgresql" and connections > 1
    committed = threading.Event()

    def writer(session: Session) -> tuple[int, str]:
        before = _beats(session)
        with runtime.engine.begin() as other:  # another transaction commits a row meanwhile
            other.execute(text("INSERT INTO worker_heartbeats (worker, started_at, beat_at) VALUES ('w', :at, :at)"),
                          {"at": AT})
        committed.set()
        return before, threading.current_thread().name

    def reader(session: Session) -> tuple[int, str]:
        if side_by_side:
            assert committed.wait(10), "the sections did not run side by side"
        return _beats(session), threading.current_thread().name

    if not side_by_side:  # one after another in one read transaction
        sessions = run_sections(runtime, {"first": lambda s: s, "second": lambda s: s})
        assert sessions["first"] is sessions["second"]
        return
    found = run_sections(runtime, {"writer": writer, "reader": reader})

    assert found["writer"][0] == found["reader"][0] == 0
    assert found["writer"][1] != found["reader"][1]
    with runtime.read_uow() as uow:
        assert _beats(uow.session) == 1
