"""The impact of a proposed gate set before it is enforced: the open deals it would block on their next move into
each proposed stage, and the recorded moves of the last days into those stages it would have blocked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain.conditions import parse_condition
from service.domain.gating import Gatekeeper
from service.domain.issues import Outcome, Reason
from service.domain.pipeline import Gate, GateMode, Requirement, StageRef
from service.errors import InvalidInputError
from service.models import Connection, CrmUser, Field, Record, Stage, Transition
from service.models import Gate as GateRow
from service.models import Pipeline as PipelineRow
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.gate_admin import check_not_empty, check_persona_requirement, check_requirements, find_stage
from service.services.gate_impact import POPULATION, open_impact
from service.services.gate_policy import domain_gate, domain_pipeline
from service.services.stored_config import field_spec, placeholders_of

DEFAULT_DAYS, MAX_DAYS = 90, 730
DECIDED = ("Decided by the gating rules with the proposed gates enforced, the saved gates of other stages in their "
           "own modes (a move that skips stages passes their gates too) and the removed gates left out; persona "
           "requirements are not evaluated.")
OPEN_RULE = (f"{POPULATION} whose move into the proposed stage would be blocked, given their current values. "
             f"{DECIDED} `of`: the open deals checked; `missing`: per field, the blocked deals it would fail "
             "(missing or invalid); totals count each deal once over all proposed stages.")
REPLAY_RULE = ("The recorded moves of the last `days` days into the proposed stages, decided again. Transitions do "
               "not store the deal's values at move time: the deal's current values are used, except that a field "
               "the transition's issues reported as missing (or invalid) then counts as missing; so `would_block` is "
               f"a lower bound (a field filled after the move counts as filled). {DECIDED} `allowed_then`: moves "
               "not blocked then; `would_block`: of those, the moves the proposed set would block.")
_UNFILLED_THEN = frozenset({str(Reason.MISSING), str(Reason.INVALID)})


@dataclass(frozen=True)
class Proposed:
    """One proposed gate: its mirrored stage and the domain gate, enforced."""

    stage: Stage
    mode: str
    gate: Gate


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Re-raise a validation error of one body item with its path ahead of each field path."""
    try:
        yield
    except InvalidInputError as exc:
        errors = {f"{path}.{key}": value for key, value in (exc.errors or {}).items()}
        raise InvalidInputError(f"{path}: {exc.detail}", errors or {path: [exc.detail]}) from exc


def _stage(session: Session, connection_id: int, item: dict[str, Any]) -> Stage:
    stage = find_stage(session, connection_id, item["pipeline"], item["stage"])
    if stage.archived:
        raise InvalidInputError(f"Stage {stage.external_id!r} ({stage.label}) is archived in the CRM; it is not "
                                "gated.", {"stage": ["Archived stage."]})
    return stage


def _proposed(session: Session, connection_id: int, item: dict[str, Any]) -> Proposed:
    """A proposed gate checked as creating it would be (InvalidInputError for an unknown stage, field, persona)."""
    stage = _stage(session, connection_id, item)
    requirements = check_requirements(session, item.get("requirements") or [])
    check_not_empty(requirements, check_persona_requirement(session, item.get("persona_requirement")))
    gate = Gate(pipeline_id=stage.pipeline.external_id, stage_id=stage.external_id, mode=GateMode.ENFORCE,
                requirements=tuple(Requirement(r["field"], parse_condition(r["required_if"]) if r["required_if"]
                                               else None) for r in requirements))
    return Proposed(stage, item.get("mode") or "audit", gate)


def _stage_view(stage: Stage) -> dict[str, Any]:
    return {"pipeline": stage.pipeline.external_id, "stage": stage.external_id, "stage_label": stage.label}


def _gatekeeper(session: Session, connection: Connection, proposed: list[Proposed], left_out: set[int]) -> Gatekeeper:
    """The connection's gating with the proposed gates in place of the saved ones of their stages."""
    pipelines = session.scalars(select(PipelineRow).where(PipelineRow.connection_id == connection.id)
                                .options(selectinload(PipelineRow.stages)))
    saved = session.scalars(select(GateRow).where(GateRow.connection_id == connection.id))
    gates = [domain_gate(g) for g in saved if g.stage_id not in left_out] + [p.gate for p in proposed]
    return Gatekeeper([domain_pipeline(p) for p in pipelines], gates,
                      [field_spec(f) for f in session.scalars(select(Field))], placeholders=placeholders_of(connection))


def _open_deals(session: Session, keeper: Gatekeeper, connection_id: int, proposed: list[Proposed]) -> dict[str, Any]:
    labels = keeper.fields
    stages, checked, blocked = [], set(), set()
    for p in proposed:
        impact = open_impact(session, keeper, connection_id, p.stage)
        checked |= impact.checked
        blocked |= impact.blocked
        missing = sorted(impact.missing.items(), key=lambda kv: (-kv[1], kv[0]))
        stages.append({**_stage_view(p.stage), "mode": p.mode, "would_block": len(impact.blocked),
                       "of": len(impact.checked),
                       "missing": [{"field": key, "label": labels[key].label if key in labels else key, "deals": n}
                                   for key, n in missing]})
    return {"stages": stages, "totals": {"would_block": len(blocked), "of": len(checked)}, "rule": OPEN_RULE}


def _replay(now: datetime, session: Session, keeper: Gatekeeper, connection_id: int, proposed: list[Proposed],
            days: int) -> dict[str, Any]:
    since = now - timedelta(days=days)
    by_ref = {(p.stage.pipeline.external_id, p.stage.external_id): p.stage for p in proposed}
    rows = session.execute(
        select(Transition.from_pipeline, Transition.from_stage, Transition.to_pipeline, Transition.to_stage,
               Transition.decision, Transition.issues, Transition.owner_id, Record.values)
        .join(Record, Record.id == Transition.record_id)
        .where(Transition.connection_id == connection_id, Transition.occurred_at >= since,
               Transition.to_stage.in_({stage for _, stage in by_ref}),
               Transition.to_pipeline.in_({pipeline for pipeline, _ in by_ref}))
        .execution_options(yield_per=1000))
    moves: Counter[tuple[str, str]] = Counter()
    allowed: Counter[tuple[str, str]] = Counter()
    blocked: Counter[tuple[str, str]] = Counter()
    owner_moves: Counter[str | None] = Counter()
    owner_blocked: Counter[str | None] = Counter()
    for from_pipeline, from_stage, to_pipeline, to_stage, decision, issues, owner, values in rows:
        key = (to_pipeline, to_stage)
        if key not in by_ref:
            continue
        moves[key] += 1
        owner_moves[owner] += 1
        if decision == str(Outcome.BLOCKED):
            continue
        allowed[key] += 1
        then = dict(values or {})
        then.update({i["field"]: None for i in issues or () if i.get("reason") in _UNFILLED_THEN and i.get("field")})
        source = StageRef(from_pipeline or to_pipeline, from_stage) if from_stage else None
        if keeper.decide(source, StageRef(*key), then).outcome is Outcome.BLOCKED:
            blocked[key] += 1
            owner_blocked[owner] += 1
    names = {external_id: name for external_id, name in session.execute(
        select(CrmUser.external_id, CrmUser.name).where(
            CrmUser.connection_id == connection_id, CrmUser.external_id.in_({o for o in owner_moves if o}))
    )} if owner_moves else {}
    owners = sorted(owner_moves, key=lambda o: (-owner_blocked[o], -owner_moves[o], o or ""))
    return {
        "days": days, "since": since, "moves": sum(moves.values()), "allowed_then": sum(allowed.values()),
        "would_block": sum(blocked.values()),
        "by_owner": [{"owner_id": o, "owner_name": names.get(o) if o else None, "moves": owner_moves[o],
                      "would_block": owner_blocked[o]} for o in owners],
        "by_stage": [{**_stage_view(stage), "moves": moves[key], "allowed_then": allowed[key],
                      "would_block": blocked[key]} for key, stage in by_ref.items()],
        "rule": REPLAY_RULE,
    }


def _check_shape(data: dict[str, Any]) -> int:
    days = data.get("days", DEFAULT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be 1 to {MAX_DAYS}.", {"days": [f"Give 1 to {MAX_DAYS}."]})
    if not data.get("gates") and not data.get("remove"):
        raise InvalidInputError("Propose at least one gate, or remove one.", {"gates": ["Give at least one."]})
    return days


def preview_gates(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """What the proposed gates (replacing the saved gates of their stages, with `remove`'s saved gates dropped)
    would do if enforced: the open deals they would block and the recorded moves of the last `days` days they
    would have blocked, each with the rule counting it. Writes nothing. NotFoundError for an unknown connection;
    InvalidInputError (paths under `gates[i]` / `remove[i]`) for an unknown pipeline, stage, field or persona, a
    gate asking for nothing, a stage given twice, or `days` outside 1..730."""
    with runtime.read_uow() as uow:
        return preview_in(uow.session, data, runtime.clock())


def preview_in(session: Session, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """preview_gates read in `session` (its uncommitted changes count), replaying the days before `now`."""
    days = _check_shape(data)
    connection = get_or_404(session, Connection, data["connection_id"], "Connection")
    proposed, removed, seen = [], [], set()
    for i, item in enumerate(data.get("gates") or []):
        with _at(f"gates[{i}]"):
            p = _proposed(session, connection.id, item)
            if p.stage.id in seen:
                raise InvalidInputError("This stage is given twice.", {"stage": ["Given twice."]})
        seen.add(p.stage.id)
        proposed.append(p)
    for i, item in enumerate(data.get("remove") or []):
        with _at(f"remove[{i}]"):
            stage = find_stage(session, connection.id, item["pipeline"], item["stage"])
            if stage.id in seen:
                raise InvalidInputError("This stage is also proposed or removed already.",
                                        {"stage": ["Given twice."]})
        seen.add(stage.id)
        gate = session.scalars(select(GateRow).where(GateRow.stage_id == stage.id)).first()
        removed.append({**_stage_view(stage), "gate_id": gate.id if gate else None})
    keeper = _gatekeeper(session, connection, proposed, seen)
    return {"connection_id": connection.id, "removed": removed,
            "open_deals": _open_deals(session, keeper, connection.id, proposed),
            "replay": _replay(now, session, keeper, connection.id, proposed, days)}
