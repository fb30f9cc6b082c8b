"""How far a deal went in its pipeline, as the triggers keep it (deal_reaches, service/models/reach_sql.py) and
the report places it (service/domain/conversion.placed), on SQLite and PostgreSQL: by any path and strictly
(entered at the first stage, then one stage at a time until the first skip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.domain.conversion import Reach, placed
from service.models import Connection, Record, Transition
from service.models.reach_sql import SEPARATOR
from service.models.records import DealReach
from service.runtime import Runtime

POSITIONS = {f"s{p}": p for p in range(5)}  # the open stages in order; "lost" is not one of them
AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
# (target position or None for the lost stage, direction, stages passed, decision)
Step = tuple[int | None, str, int, str]

CASES: dict[str, tuple[list[Step], Reach | None]] = {
    "through every stage": ([(0, "enter", 1, "allowed"), (1, "forward", 1, "allowed"),
                             (2, "forward", 1, "allowed")], Reach(2, 2)),
    "a skip ends the strict path only": ([(0, "enter", 1, "allowed"), (3, "forward", 3, "allowed"),
                                          (4, "forward", 1, "allowed")], Reach(4, 0)),
    "entering further in": ([(2, "enter", 3, "allowed")], Reach(2, -1)),
    "the entry never seen": ([(1, "forward", 1, "allowed"), (2, "forward", 1, "allowed")], Reach(2, -1)),
    "back after a skip": ([(0, "enter", 1, "allowed"), (2, "forward", 2, "allowed"),
                           (0, "backward", 0, "allowed")], Reach(2, 0)),
    "back and on again": ([(0, "enter", 1, "allowed"), (1, "forward", 1, "allowed"), (0, "backward", 0, "allowed"),
                           (1, "forward", 1, "allowed"), (2, "forward", 1, "allowed")], Reach(2, 2)),
    "a blocked skip counts for nothing": ([(0, "enter", 1, "allowed"), (3, "forward", 3, "blocked"),
                                           (1, "forward", 1, "warned")], Reach(1, 1)),
    "lost only": ([(None, "to_lost", 1, "allowed")], None),
    "blocked only": ([(0, "enter", 1, "blocked")], None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_given_a_deals_moves_then_its_reach_is_kept_and_placed(runtime: Runtime, name: str) -> None:
    steps, want = CASES[name]
    with runtime.uow() as uow:
        s = uow.session
        connection = Connection(name="CRM", kind="hubspot", base_url="https://crm.invalid", credentials_encrypted="x")
        s.add(connection)
        s.flush()
        record = Record(connection_id=connection.id, external_id="1", owner_external_id="7")
        s.add(record)
        s.flush()
        # Added newest first: the triggers must order the moves by time, not by arrival.
        for i, (position, direction, passed, decision) in reversed(list(enumerate(steps))):
            s.add(Transition(connection_id=connection.id, record_id=record.id, to_pipeline="p",
                             to_stage="lost" if position is None else f"s{position}", stages_passed=passed,
                             occurred_at=AT + timedelta(hours=i), owner_id="7", mover_kind="ui", source="webhook",
                             direction=direction, decision=decision, issues=[]))
            s.flush()
        uow.commit()
    with runtime.read_uow() as uow:
        row = uow.session.scalars(select(DealReach)).one()

    def stages(joined: str | None) -> list[str]:
        return joined.split(SEPARATOR) if joined else []
    assert row.blocked == sum(1 for step in steps if step[3] == "blocked")
    assert placed(stages(row.stages), stages(row.strict_stages), POSITIONS) == want
