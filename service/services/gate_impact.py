"""What a gate would do to the deals already open: how many of them the pure gating rules would block on
their next move into the gate's stage, given their current values, were the gate enforced."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.gating import Gatekeeper
from service.domain.issues import Outcome
from service.domain.pipeline import GateMode, StageRef
from service.models import Connection, Field, Record
from service.models import Gate as GateRow
from service.services.gate_policy import domain_gate, domain_pipeline
from service.services.stored_config import field_spec, placeholders_of

RULE = ("Open deals (not deleted, in an open stage of this pipeline before the gate's stage, or anywhere in it for "
        "a lost stage) whose move into the gate's stage would be blocked by this gate's field requirements if it "
        "enforced them, given their current values; other gates and the persona requirement are not counted. "
        "`of`: the open deals checked.")


def would_block(session: Session, gate: GateRow) -> dict[str, Any]:
    """How many open deals this gate would block if enforced (`count`), out of the open deals whose next move
    could enter its stage (`of`), and the `rule` counting them. Reads the connection's records; no I/O else."""
    pipeline = gate.stage.pipeline
    enforced = replace(domain_gate(gate), mode=GateMode.ENFORCE)
    connection = session.get_one(Connection, gate.connection_id)
    fields = [field_spec(f) for f in session.scalars(select(Field))]
    keeper = Gatekeeper([domain_pipeline(pipeline)], [enforced], fields, placeholders=placeholders_of(connection))
    target = StageRef(pipeline.external_id, gate.stage.external_id)
    to_lost = gate.stage.kind == "lost"
    sources = [s.external_id for s in pipeline.stages if s.kind == "open" and not s.archived
               and (to_lost or s.order < gate.stage.order) and s.id != gate.stage.id]
    checked = blocked = 0
    if sources:
        rows = session.execute(
            select(Record.stage_external_id, Record.values)
            .where(Record.connection_id == gate.connection_id, Record.pipeline_external_id == pipeline.external_id,
                   Record.deleted.is_(False), Record.stage_external_id.in_(sources))
            .execution_options(yield_per=1000))
        for stage, values in rows:
            checked += 1
            decision = keeper.decide(StageRef(pipeline.external_id, stage), target, values or {})
            blocked += decision.outcome is Outcome.BLOCKED
    return {"count": blocked, "of": checked, "rule": RULE}
