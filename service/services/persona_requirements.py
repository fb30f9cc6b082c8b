"""The persona requirements of gates: loaded from the stored gates, and checked at decision time against the
lead's explained fit, which becomes decision issues."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.fields import normalize_for_storage
from service.domain.issues import Decision
from service.domain.persona_gate import PersonaRequirement, persona_issues, requirement_from_dict, with_persona_issues
from service.domain.pipeline import GateMode, StageRef
from service.domain.scoring import prepare
from service.models import Gate
from service.services.deals import stage_label
from service.services.scoring import persona_set

Requirements = dict[tuple[str, str], PersonaRequirement]


def load_requirements(session: Session, connection_id: int) -> Requirements:
    """The persona requirements of a connection's gates, by (pipeline id, stage id)."""
    found: Requirements = {}
    for gate in session.scalars(select(Gate).where(Gate.connection_id == connection_id)):
        if gate.persona_requirement:
            key = (gate.stage.pipeline.external_id, gate.stage.external_id)
            found[key] = requirement_from_dict(gate.stage.external_id, GateMode(gate.mode), gate.persona_requirement)
    return found


def relevant(requirements: Requirements, decision: Decision, target: StageRef) -> list[PersonaRequirement]:
    """The requirements of the stages this move had to pass."""
    return [requirements[(target.pipeline_id, s)] for s in decision.gated_stages
            if (target.pipeline_id, s) in requirements]


def check_fit(session: Session, connection_id: int, decision: Decision, target: StageRef,
              values: Mapping[str, Any], requirements: list[PersonaRequirement], language: str,
              today: date) -> Decision:
    """The decision with the failed persona requirements added as issues (`values` normalized)."""
    if not requirements:
        return decision
    personas = persona_set(session)
    prepared = prepare(values, personas.fields, today)
    wanted = {r.persona_id for r in requirements}
    scores = [compiled.explain(prepared, language) for compiled, spec in zip(personas.compiled, personas.specs,
                                                                              strict=True)
              if None in wanted or spec.id in wanted]
    issues = persona_issues(requirements, scores, personas.names, language)
    label = stage_label(session, connection_id, target.pipeline_id, target.stage_id)
    return with_persona_issues(decision, issues, label, language)


def normalized(values: Mapping[str, Any], session: Session) -> dict[str, Any]:
    """Raw API values normalized the way records store them (unknown keys dropped)."""
    fields = persona_set(session).fields
    return {k: normalize_for_storage(fields[k], v) for k, v in values.items() if k in fields}
