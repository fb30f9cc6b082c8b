"""Admin use cases for gates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain.condition_parse import validate_condition
from service.domain.conditions import parse_condition
from service.domain.errors import DomainError
from service.errors import ConflictError, InvalidInputError
from service.models import Connection, Field, Gate, Persona, Pipeline, Stage
from service.runtime import Runtime
from service.services.common import get_or_404, paginate, repeated
from service.services.gate_impact import would_block
from service.services.guardrails import closest
from service.services.stored_config import bump_config, field_spec


def gate_view(row: Gate) -> dict[str, Any]:
    """The API view of a gate (CRM ids for pipeline and stage)."""
    return {
        "id": row.id, "connection_id": row.connection_id, "pipeline": row.stage.pipeline.external_id,
        "stage": row.stage.external_id, "stage_label": row.stage.label, "mode": row.mode,
        "requirements": row.requirements, "persona_requirement": row.persona_requirement,
        "description": row.description,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def check_requirements(session: Session, requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored form of a gate's requirements; InvalidInputError for an unknown or repeated field or a bad
    condition."""
    specs = {f.key: field_spec(f) for f in session.scalars(select(Field))}
    known = set(specs)
    errors: dict[str, list[str]] = {}
    cleaned: list[dict[str, Any]] = []
    twice = set(repeated([req["field"] for req in requirements]))
    for i, req in enumerate(requirements):
        if req["field"] not in known:
            errors[f"requirements[{i}].field"] = [f"No field with key {req['field']!r}."]
        if i in twice:
            errors[f"requirements[{i}].field"] = ["This field is listed twice."]
        condition = req.get("required_if")
        if condition is not None:
            path = f"requirements[{i}].required_if"
            try:
                validate_condition(parse_condition(condition, known_fields=known, path=path), specs, path=path)
            except DomainError as exc:
                errors.update(getattr(exc, "errors", None) or {path: [str(exc)]})
        cleaned.append({"field": req["field"], "required_if": condition})
    if errors:
        raise InvalidInputError("Some requirements are invalid.", errors)
    return cleaned


def check_persona_requirement(session: Session, requirement: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored form of a persona requirement; InvalidInputError when it asks for nothing or names no persona."""
    if requirement is None:
        return None
    errors: dict[str, list[str]] = {}
    persona_id = requirement.get("persona_id")
    if persona_id is not None and session.get(Persona, persona_id) is None:
        errors["persona_requirement.persona_id"] = [f"Persona {persona_id} does not exist."]
    if requirement.get("min_score") is None and not requirement.get("not_disqualified"):
        errors["persona_requirement"] = ["Set min_score, not_disqualified or both."]
    if errors:
        raise InvalidInputError("The persona requirement is invalid.", errors)
    return {"persona_id": persona_id, "min_score": requirement.get("min_score"),
            "not_disqualified": bool(requirement.get("not_disqualified"))}


def check_not_empty(requirements: list[dict[str, Any]], persona_requirement: dict[str, Any] | None) -> None:
    """InvalidInputError when a gate would ask for nothing."""
    if not requirements and persona_requirement is None:
        raise InvalidInputError("A gate needs field requirements, a persona requirement or both.",
                                {"requirements": ["Give at least one, or a persona_requirement."]})


def _pick(rows: list[Any], given: str, what: str, where: str) -> Any:
    """The row whose CRM id is `given`, else the one whose label is (case-insensitive, unambiguous);
    InvalidInputError naming the ambiguous ones or the closest ids and labels."""
    by_id = [r for r in rows if r.external_id == given]
    if by_id:
        return by_id[0]
    by_label = [r for r in rows if not r.archived and r.label.casefold() == given.strip().casefold()]
    if len(by_label) == 1:
        return by_label[0]
    if by_label:
        named = ", ".join(f"{r.external_id} ({r.label})" for r in by_label)
        raise InvalidInputError(f"{where} has several {what}s labelled {given!r}: {named}; give the id.",
                                {what: [f"Ambiguous label; use one of the ids: {named}."]})
    live = [r for r in rows if not r.archived]
    near = set(closest(given, [*(r.external_id for r in live), *(r.label for r in live)]))
    named = ", ".join(f"{r.external_id} ({r.label})" for r in live if r.external_id in near or r.label in near)
    hint = f"Closest: {named}." if named else f"Known: {', '.join(f'{r.external_id} ({r.label})' for r in live)}."
    raise InvalidInputError(
        f"{where} has no {what} {given!r} (by id or label). {hint} If it was added in the CRM lately, refresh "
        "the pipelines (POST /v1/connections/{id}/pipelines/refresh).", {what: [f"Unknown {what}. {hint}"]})


def find_stage(session: Session, connection_id: int, pipeline: str, stage: str) -> Stage:
    """The mirrored stage named by id or label, in the pipeline named by id or label (see `_pick`)."""
    pipelines = list(session.scalars(
        select(Pipeline).where(Pipeline.connection_id == connection_id).options(selectinload(Pipeline.stages))))
    if not pipelines:
        raise InvalidInputError(
            f"Connection {connection_id} has no pipelines mirrored yet; refresh its pipelines first "
            "(POST /v1/connections/{id}/pipelines/refresh).", {"pipeline": ["No pipelines mirrored."]})
    found = _pick(pipelines, pipeline, "pipeline", f"Connection {connection_id}")
    return _pick(list(found.stages), stage, "stage",  # type: ignore[no-any-return]
                 f"Pipeline {found.external_id} ({found.label})")


def list_gates(runtime: Runtime, connection_id: int | None, page: int, page_size: int) -> dict[str, Any]:
    """A page of gates, optionally for one connection."""
    query = select(Gate).order_by(Gate.id)
    if connection_id is not None:
        query = query.where(Gate.connection_id == connection_id)
    with runtime.read_uow() as uow:
        result = paginate(uow.session, query, page, page_size)
        return {**result, "items": [gate_view(g) for g in result["items"]]}


def get_gate(runtime: Runtime, gate_id: int) -> dict[str, Any]:
    """One gate; NotFoundError if absent."""
    with runtime.read_uow() as uow:
        return gate_view(get_or_404(uow.session, Gate, gate_id, "Gate"))


def add_gate(session: Session, data: dict[str, Any]) -> Gate:
    """Add the gate of one stage to the session's transaction; ConflictError if the stage already has one,
    InvalidInputError for an unknown stage, field or persona."""
    get_or_404(session, Connection, data["connection_id"], "Connection")
    stage = find_stage(session, data["connection_id"], data["pipeline"], data["stage"])
    existing = session.scalars(select(Gate).where(Gate.stage_id == stage.id)).first()
    if existing is not None:
        raise ConflictError(f"Stage {stage.external_id!r} ({stage.label}) already has gate {existing.id}; change "
                            f"that one instead (PATCH /v1/gates/{existing.id}).", {"stage": [f"Gate {existing.id}."]})
    requirements = check_requirements(session, data.get("requirements") or [])
    persona_requirement = check_persona_requirement(session, data.get("persona_requirement"))
    check_not_empty(requirements, persona_requirement)
    row = Gate(connection_id=data["connection_id"], stage=stage, mode=data.get("mode") or "audit",
               requirements=requirements, persona_requirement=persona_requirement, description=data.get("description"))
    session.add(row)
    bump_config(session, data["connection_id"])
    session.flush()
    return row


def create_gate(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Define the gate of one stage (in audit mode unless given one), answering how many open deals it would
    block if enforced (`would_block`); see add_gate for the errors."""
    with runtime.uow() as uow:
        row = add_gate(uow.session, data)
        view = {**gate_view(row), "would_block": would_block(uow.session, row)}
        uow.commit()
        return view


def change_gate(session: Session, row: Gate, data: dict[str, Any]) -> None:
    """Apply the given keys of `data` (mode, requirements, persona_requirement, description) to a gate in the
    session's transaction, checked as when adding one; InvalidInputError for an unknown field or persona or an
    empty gate."""
    if "requirements" in data:
        row.requirements = check_requirements(session, data["requirements"])
    if "persona_requirement" in data:
        row.persona_requirement = check_persona_requirement(session, data["persona_requirement"])
    check_not_empty(row.requirements, row.persona_requirement)
    for name in ("mode", "description"):
        if name in data:
            setattr(row, name, data[name])
    bump_config(session, row.connection_id)
    session.flush()


def update_gate(runtime: Runtime, gate_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a gate's mode, requirements or description."""
    with runtime.uow() as uow:
        session = uow.session
        row = get_or_404(session, Gate, gate_id, "Gate")
        change_gate(session, row, data)
        view = {**gate_view(row), "would_block": would_block(session, row)}
        uow.commit()
        return view


def delete_gate(runtime: Runtime, gate_id: int) -> None:
    """Remove a gate."""
    with runtime.uow() as uow:
        row = get_or_404(uow.session, Gate, gate_id, "Gate")
        bump_config(uow.session, row.connection_id)
        uow.session.delete(row)
        uow.commit()
