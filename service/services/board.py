"""The pipeline board of the admin pages: one pipeline's stages against every portrait field, which cells
are required, what a move that skips stages needs, and a proposed set of gates previewed and then applied as
the gate use cases do (POST/PATCH/DELETE /v1/gates), all in one unit of work.

A proposal is `{"stages": {stage_db_id: {"mode": str, "requirements": [{"field", "required_if", "when"}]}}}`
over the pipeline's live stages, where `when` is a condition as typed in a form and stands in for `required_if`:
comparisons joined by "all of" or "any of" (`{"join": "all"|"any", "rows": [{"field", "op", "value"}]}`, or one
comparison `{"field", "op", "value"}`), each value as text read by the compared field's type; a stage the
proposal leaves out keeps its gate as stored. A gate's persona requirement and
description are never changed here: a gate whose fields are all unticked but that asks for a fit stays."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.domain.condition_model import LIST_OPERATORS, OPERATORS, PRESENCE_OPERATORS
from service.domain.gating import Gatekeeper
from service.domain.pipeline import GateMode, StageRef
from service.errors import InvalidInputError
from service.models import Connection, Field, Gate, Pipeline, Stage
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.gate_admin import add_gate, check_not_empty, check_requirements
from service.services.gate_policy import domain_pipeline
from service.services.gate_preview import preview_gates
from service.services.stored_config import bump_config

MODES: tuple[str, ...] = tuple(mode.value for mode in (GateMode.AUDIT, GateMode.WARN, GateMode.ENFORCE))
DEFAULT_MODE = GateMode.AUDIT.value  # as POST /v1/gates
PREVIEW_DAYS = 90
MAX_ROWS = 8  # comparisons one cell's condition may join on the board (a longer one is kept as stored)


def pipelines_overview(runtime: Runtime) -> list[dict[str, Any]]:
    """Every connection's pipelines with how many live stages and gates each has, by connection then order."""
    with runtime.read_uow() as uow:
        session = uow.session
        gates: dict[int, int] = {pid: n for pid, n in session.execute(
            select(Stage.pipeline_id, func.count(Gate.id)).join(Gate, Gate.stage_id == Stage.id)
            .group_by(Stage.pipeline_id))}
        rows = session.execute(
            select(Pipeline, Connection.name).join(Connection, Connection.id == Pipeline.connection_id)
            .options(selectinload(Pipeline.stages)).order_by(Connection.name, Connection.id, Pipeline.order,
                                                             Pipeline.id)).all()
        return [{"id": p.id, "connection_id": p.connection_id, "connection": name, "label": p.label,
                 "external_id": p.external_id, "archived": p.archived,
                 "stages": sum(1 for s in p.stages if not s.archived), "gates": gates.get(p.id, 0)}
                for p, name in rows]


def _stages(pipeline: Pipeline) -> list[Stage]:
    """The live stages as the board's columns: open ones in order, then won and lost ones."""
    return sorted((s for s in pipeline.stages if not s.archived), key=lambda s: (s.kind != "open", s.order))


def _load(session: Session, pipeline_id: int) -> tuple[Pipeline, list[Stage], dict[int, Gate]]:
    pipeline = get_or_404(session, Pipeline, pipeline_id, "Pipeline")
    stages = _stages(pipeline)
    gates = {g.stage_id: g for g in session.scalars(select(Gate).where(Gate.stage_id.in_([s.id for s in stages])))}
    return pipeline, stages, gates


JOINS: tuple[str, ...] = ("all", "any")  # the condition format's {"all": [...]} and {"any": [...]}


def _is_comparison(node: Any) -> bool:
    return isinstance(node, Mapping) and "field" in node


def _row(comparison: Mapping[str, Any]) -> dict[str, Any]:
    return {"field": comparison["field"], "op": comparison.get("op"), "value": _text(comparison.get("value"))}


def _condition(required_if: Any) -> dict[str, Any]:
    """How a cell's condition is edited: none; comparisons (field/op/value rows) joined by all or any, for one
    comparison or one level of 2 to MAX_ROWS of them; otherwise read-only text kept as stored."""
    if required_if is None:
        return {"kind": "none"}
    if _is_comparison(required_if):
        return {"kind": "comparisons", "join": "all", "rows": [_row(required_if)]}
    if isinstance(required_if, Mapping) and len(required_if) == 1:
        join, items = next(iter(required_if.items()))
        # Two to MAX_ROWS comparisons: what the form gives back as stored (one comparison it gives back bare).
        if (join in JOINS and isinstance(items, list) and 1 < len(items) <= MAX_ROWS
                and all(_is_comparison(i) for i in items)):
            return {"kind": "comparisons", "join": join, "rows": [_row(i) for i in items]}
    return {"kind": "complex", "value": json.dumps(required_if, ensure_ascii=False, sort_keys=True)}


def _text(value: Any) -> str:
    """A condition operand as typed in the form (the inverse of `_typed`)."""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _cumulative(pipeline: Pipeline, stages: list[Stage],
                required: Mapping[int, Mapping[str, Any]]) -> dict[int, dict[str, str]]:
    """Per stage, the fields a deal entering it straight from outside the pipeline (skipping every earlier
    stage) needs because of an earlier stage, with the first such stage's label; the stages passed are the
    domain's own route (Gatekeeper.stages_to_gate), as when a move is decided."""
    keeper = Gatekeeper([domain_pipeline(pipeline)], [], [])
    by_external = {s.external_id: s for s in stages}
    out: dict[int, dict[str, str]] = {}
    for stage in stages:
        _, refs = keeper.stages_to_gate(None, StageRef(pipeline.external_id, stage.external_id))
        via: dict[str, str] = {}
        for ref in refs:
            passed = by_external[ref.stage_id]
            if passed.id == stage.id:
                continue
            for key in required.get(passed.id, {}):
                via.setdefault(key, passed.label)
        out[stage.id] = via
    return out


TRUE_WORDS = frozenset({"true", "yes", "1", "да"})
FALSE_WORDS = frozenset({"false", "no", "0", "нет"})


def _typed(text: str, kind: str | None) -> Any:
    """A condition operand typed in a form as the compared field's value type; left as text when it does not
    read as one, so the condition check names it."""
    text = text.strip()
    if kind in ("number", "integer", "money"):
        for parse in (int, float):
            try:
                return parse(text)
            except ValueError:
                continue
    if kind == "boolean" and text.casefold() in TRUE_WORDS | FALSE_WORDS:
        return text.casefold() in TRUE_WORDS
    return text


def _comparison(when: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """One form-typed comparison in the condition format, its value read as the compared field's type."""
    field, op, text = when.get("field"), when.get("op"), str(when.get("value") or "")
    kind = types.get(field) if isinstance(field, str) else None
    if op in PRESENCE_OPERATORS:
        return {"field": field, "op": op}
    if op in LIST_OPERATORS:
        return {"field": field, "op": op, "value": [_typed(part, kind) for part in text.split(",") if part.strip()]}
    return {"field": field, "op": op, "value": _typed(text, kind)}


def _required_if(when: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any] | None:
    """A form-typed condition as a `required_if`: nothing without comparisons, one comparison as itself,
    several as {"all": [...]} or {"any": [...]} (InvalidInputError for another join)."""
    rows = when.get("rows", [when])
    join = when.get("join", "all")
    if join not in JOINS:
        raise InvalidInputError("A condition joins its comparisons by all or any.",
                                {"when.join": [f"One of {', '.join(JOINS)}."]})
    comparisons = [_comparison(row, types) for row in rows]
    if not comparisons:
        return None
    return comparisons[0] if len(comparisons) == 1 else {join: comparisons}


def _normalized(session: Session, proposal: Mapping[str, Any]) -> dict[str, Any]:
    """The proposal with each form-typed condition (`when`) turned into a `required_if`."""
    types: dict[str, str] = {key: kind for key, kind in session.execute(select(Field.key, Field.type))}
    return {"stages": {sid: {"mode": entry.get("mode"), "requirements": [
        {"field": r["field"],
         "required_if": _required_if(r["when"], types) if r.get("when") else r.get("required_if")}
        for r in entry.get("requirements", [])]} for sid, entry in proposal.get("stages", {}).items()}}


def _board(session: Session, pipeline_id: int, proposal: Mapping[str, Any] | None, language: str) -> dict[str, Any]:
    pipeline, stages, gates = _load(session, pipeline_id)
    proposed = _normalized(session, proposal)["stages"] if proposal is not None else {}
    required: dict[int, dict[str, Any]] = {}
    modes: dict[int, str] = {}
    for stage in stages:
        gate = gates.get(stage.id)
        if stage.id in proposed:
            required[stage.id] = {r["field"]: r.get("required_if") for r in proposed[stage.id]["requirements"]}
            modes[stage.id] = proposed[stage.id]["mode"]
        else:
            required[stage.id] = {r["field"]: r.get("required_if") for r in (gate.requirements if gate else [])}
            modes[stage.id] = gate.mode if gate else DEFAULT_MODE
    cumulative = _cumulative(pipeline, stages, required)
    fields = [{"key": f.key, "label": (f.label_ru if language == "ru" else None) or f.label, "type": f.type}
              for f in session.scalars(select(Field).order_by(Field.id))]
    columns = []
    for stage in stages:
        gate = gates.get(stage.id)
        via = cumulative[stage.id]
        columns.append({
            "id": stage.id, "external_id": stage.external_id, "label": stage.label, "kind": stage.kind,
            "mode": modes[stage.id], "gate_id": gate.id if gate else None,
            "persona_requirement": gate.persona_requirement if gate else None,
            "required": {key: _condition(cond) for key, cond in required[stage.id].items()},
            "via": via, "needs": len(set(via) | set(required[stage.id]))})
    return {"pipeline": {"id": pipeline.id, "label": pipeline.label, "external_id": pipeline.external_id,
                         "connection_id": pipeline.connection_id, "connection": pipeline.connection.name},
            "stages": columns, "fields": fields, "modes": MODES, "operators": OPERATORS}


def board_view(runtime: Runtime, pipeline_id: int, language: str = "en",
               proposal: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The board of pipeline `pipeline_id` (NotFoundError if absent): its live stages as columns (gate, mode,
    the required fields and their conditions, and `via`: the fields a move skipping the earlier stages needs
    because of them), every field as a row; with `proposal`, as the proposal would make it."""
    with runtime.read_uow() as uow:
        if proposal is not None:
            _check_stages(uow.session, pipeline_id, proposal)
        return _board(uow.session, pipeline_id, proposal, language)


def _check_stages(session: Session, pipeline_id: int, proposal: Mapping[str, Any]) -> None:
    _, stages, _ = _load(session, pipeline_id)
    live = {s.id for s in stages}
    errors = {f"stages.{sid}": ["Not a live stage of this pipeline."] for sid in proposal.get("stages", {})
              if sid not in live}
    bad_modes = {f"stages.{sid}.mode": [f"One of {', '.join(MODES)}."]
                 for sid, entry in proposal.get("stages", {}).items() if entry.get("mode") not in MODES}
    if errors or bad_modes:
        raise InvalidInputError("The proposal names stages or modes this pipeline does not have.",
                                {**errors, **bad_modes})


def _changes(session: Session, pipeline_id: int, proposal: Mapping[str, Any]) -> dict[str, Any]:
    """The proposal as the gate use cases' inputs: gates to create, change or remove (in stage order)."""
    _check_stages(session, pipeline_id, proposal)
    proposal = _normalized(session, proposal)
    pipeline, stages, gates = _load(session, pipeline_id)
    create: list[dict[str, Any]] = []
    change: list[dict[str, Any]] = []
    same: list[dict[str, Any]] = []
    remove: list[Gate] = []
    for stage in stages:
        entry = proposal.get("stages", {}).get(stage.id)
        if entry is None:
            continue
        gate = gates.get(stage.id)
        requirements = [{"field": r["field"], "required_if": r.get("required_if")} for r in entry["requirements"]]
        if gate is None:
            if requirements:
                create.append({"connection_id": pipeline.connection_id, "pipeline": pipeline.external_id,
                               "stage": stage.external_id, "mode": entry["mode"], "requirements": requirements})
        elif requirements or gate.persona_requirement is not None:
            stored = [{"field": r["field"], "required_if": r.get("required_if")} for r in gate.requirements]
            target = (change if (stored, gate.mode) != (requirements, entry["mode"]) else same)
            target.append({"gate": gate, "mode": entry["mode"], "requirements": requirements})
        else:
            remove.append(gate)
    return {"pipeline": pipeline, "create": create, "change": change, "remove": remove, "same": same}


def preview_input(runtime: Runtime, pipeline_id: int, proposal: Mapping[str, Any],
                  days: int = PREVIEW_DAYS) -> dict[str, Any]:
    """The body of `preview_gates` for the pipeline's gates as the proposal would leave them, replaying the
    moves of the last `days` days (InvalidInputError for stages or modes the pipeline does not have)."""
    with runtime.read_uow() as uow:
        found = _changes(uow.session, pipeline_id, proposal)
        pipeline = found["pipeline"]
        gates = [{**{k: c[k] for k in ("pipeline", "stage", "mode", "requirements")}, "persona_requirement": None}
                 for c in found["create"]]
        gates += [{"pipeline": pipeline.external_id, "stage": c["gate"].stage.external_id, "mode": c["mode"],
                   "requirements": c["requirements"], "persona_requirement": c["gate"].persona_requirement}
                  for c in (*found["change"], *found["same"])]
        return {"connection_id": pipeline.connection_id, "gates": gates, "days": days,
                "remove": [{"pipeline": pipeline.external_id, "stage": g.stage.external_id}
                           for g in found["remove"]]}


def preview_board(runtime: Runtime, pipeline_id: int, proposal: Mapping[str, Any],
                  language: str = "en", days: int = PREVIEW_DAYS) -> dict[str, Any]:
    """The board as the proposal would make it and what it would block (`preview_gates`: open deals per stage
    and the replay of the last `days` days' moves, by owner and by stage); nothing is stored.
    InvalidInputError for a proposal that does not fit the pipeline, names unknown fields or bad conditions,
    or for `days` outside what `preview_gates` accepts."""
    board = board_view(runtime, pipeline_id, language, proposal)
    return {"board": board,
            "preview": preview_gates(runtime, preview_input(runtime, pipeline_id, proposal, days))}


def apply_board(runtime: Runtime, pipeline_id: int, proposal: Mapping[str, Any]) -> dict[str, Any]:
    """Create, change and remove the pipeline's gates as the proposal says, in one unit of work with the same
    checks as /v1/gates: on any error (InvalidInputError, ConflictError, NotFoundError) nothing is saved.
    Answers the stage labels created, changed and removed, and how many gates stayed as they were."""
    with runtime.uow() as uow:
        session = uow.session
        found = _changes(session, pipeline_id, proposal)
        errors: dict[str, list[str]] = {}
        for data in found["create"]:
            try:
                add_gate(session, data)
            except InvalidInputError as exc:
                errors.update({f"{data['stage']}.{k}": v for k, v in (exc.errors or {"": [exc.detail]}).items()})
        for change in found["change"]:
            gate = change["gate"]
            try:
                gate.requirements = check_requirements(session, change["requirements"])
                check_not_empty(gate.requirements, gate.persona_requirement)
            except InvalidInputError as exc:
                errors.update({f"{gate.stage.external_id}.{k}": v
                               for k, v in (exc.errors or {"": [exc.detail]}).items()})
            gate.mode = change["mode"]
        for gate in found["remove"]:
            session.delete(gate)
        if errors:
            raise InvalidInputError("Nothing was saved: some requirements are invalid.", errors)
        if found["change"] or found["remove"]:
            bump_config(session, found["pipeline"].connection_id)
        session.flush()
        labels = {s.external_id: s.label for s in found["pipeline"].stages}
        summary = {"created": [labels[c["stage"]] for c in found["create"]],
                   "changed": [c["gate"].stage.label for c in found["change"]],
                   "removed": [g.stage.label for g in found["remove"]], "unchanged": len(found["same"])}
        uow.commit()
        return summary
