"""Only one process leads the scheduler on PostgreSQL; SQLite always leads (one process)."""

from __future__ import annotations

from sqlalchemy import Engine

from service.db import make_engine
from service.jobs.leader import try_lead


def test_a_second_scheduler_waits_while_the_first_holds_the_lock(engine: Engine) -> None:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    first = try_lead(engine)
    assert first is not None
    second = try_lead(other)
    try:
        if engine.dialect.name == "postgresql":
            assert second is None
            first.close()
            third = try_lead(other)
            assert third is not None
            third.close()
        else:
            assert second is not None
    finally:
        if second is not None:
            second.close()
        first.close()
        other.dispose()
