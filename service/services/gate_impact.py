"""What a gate would do to the deals already open: how many of them the pure gating rules would block on
their next move into the gate's stage, given their current values, were the gate enforced."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.gating import Gatekeeper
from service.domain.issues import Outcome
from service.domain.pipeline import GateMode, StageRef
from service.models import Connection, Field, Record, Stage
from service.models import Gate as GateRow
from service.services.gate_policy import domain_gate, domain_pipeline
from service.services.stored_config import field_spec, placeholders_of

POPULATION = ("Open deals (not deleted, in an open stage of this pipeline before the gate's stage, or anywhere in it "
              "for a lost stage)")
RULE = (f"{POPULATION} whose move into the gate's stage would be blocked by this gate's field requirements if it "
        "enforced them, given their current values; other gates and the persona requirement are not counted. "
        "`of`: the open deals checked.")


@dataclass
class OpenImpact:
    """What a Gatekeeper decides for the open deals whose next move could enter one stage."""

    checked: set[int] = field(default_factory=set)  # record ids
    blocked: set[int] = field(default_factory=set)
    missing: Counter[str] = field(default_factory=Counter)  # field key -> blocked deals failing it


def open_impact(session: Session, keeper: Gatekeeper, connection_id: int, stage: Stage) -> OpenImpact:
    """Decide, with `keeper`, the move into `stage` of every open deal of its pipeline that could make it
    (see POPULATION), given their current values; the fields counted are those of the blocking issues."""
    pipeline = stage.pipeline
    target = StageRef(pipeline.external_id, stage.external_id)
    to_lost = stage.kind == "lost"
    sources = [s.external_id for s in pipeline.stages if s.kind == "open" and not s.archived
               and (to_lost or s.order < stage.order) and s.id != stage.id]
    impact = OpenImpact()
    if not sources:
        return impact
    rows = session.execute(
        select(Record.id, Record.stage_external_id, Record.values)
        .where(Record.connection_id == connection_id, Record.pipeline_external_id == pipeline.external_id,
               Record.deleted.is_(False), Record.stage_external_id.in_(sources))
        .execution_options(yield_per=1000))
    for record_id, source, values in rows:
        impact.checked.add(record_id)
        decision = keeper.decide(StageRef(pipeline.external_id, source), target, values or {})
        if decision.outcome is Outcome.BLOCKED:
            impact.blocked.add(record_id)
            impact.missing.update({issue.field for issue in decision.blocking_issues})
    return impact


def would_block(session: Session, gate: GateRow) -> dict[str, Any]:
    """How many open deals this gate would block if enforced (`count`), out of the open deals whose next move
    could enter its stage (`of`), and the `rule` counting them. Reads the connection's records; no I/O else."""
    enforced = replace(domain_gate(gate), mode=GateMode.ENFORCE)
    connection = session.get_one(Connection, gate.connection_id)
    fields = [field_spec(f) for f in session.scalars(select(Field))]
    keeper = Gatekeeper([domain_pipeline(gate.stage.pipeline)], [enforced], fields,
                        placeholders=placeholders_of(connection))
    impact = open_impact(session, keeper, gate.connection_id, gate.stage)
    return {"count": len(impact.blocked), "of": len(impact.checked), "rule": RULE}
