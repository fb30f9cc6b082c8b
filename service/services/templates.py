"""Instantiating built-in templates: persona templates create their fields and persona; framework
templates create their fields and the cumulative gates on the stages the admin maps them to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.templates import TemplateError, TemplateInfo, expand_template, list_templates
from service.errors import ConflictError, InvalidInputError
from service.models import Field
from service.runtime import Runtime
from service.services.fields import add_field
from service.services.gate_admin import add_gate, gate_view
from service.services.personas import DEFINITION, add_persona, checked_view


def template_view(info: TemplateInfo) -> dict[str, Any]:
    """The API view of a template."""
    return {"key": info.key, "title": info.title, "title_ru": info.title_ru, "kind": info.kind,
            "description": info.description, "stages": list(info.stages)}


def templates() -> list[dict[str, Any]]:
    """Every built-in template."""
    return [template_view(t) for t in list_templates()]


def _plan(data: dict[str, Any]) -> Any:
    try:
        return expand_template(data["template"], language=data["language"], field_prefix=data.get("field_prefix", ""))
    except TemplateError as exc:
        raise InvalidInputError(str(exc), getattr(exc, "errors", None) or {"template": [str(exc)]}) from exc


def _stage_map(data: dict[str, Any], plan: Any) -> dict[str, str]:
    """The CRM stage of each logical stage the admin mapped (a gate template needs at least one)."""
    stages = data.get("stages") or {}
    known = {g["logical_stage"] for g in plan.gates}
    errors = {f"stages.{name}": [f"Not a stage of this template; expected one of {sorted(known)}."]
              for name in stages if name not in known}
    if not stages:
        errors["stages"] = ["Map at least one of the template's stages to a CRM stage id."]
    for name in ("connection_id", "pipeline"):
        if data.get(name) is None:
            errors[name] = ["Required by a gate template."]
    if errors:
        raise InvalidInputError("The stage mapping of a gate template is incomplete.", errors)
    return dict(stages)


def apply_template(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Create what a template describes: its missing fields, then its personas or its gates, in one
    transaction; InvalidInputError for a bad template or stage mapping, ConflictError (suggesting field_prefix)
    for a field of the same key and another type or options lacking some the template uses."""
    now = runtime.clock()
    with runtime.uow() as uow:
        result = _apply(uow.session, data, now)
        uow.commit()
    runtime.wake_worker()
    return result


def _reuse_conflict(row: Field, body: dict[str, Any]) -> str | None:
    """Why an existing field cannot stand for the template's field of the same key (another type, or options
    that lack some the template's criteria and conditions use); None when it can."""
    if row.type != body["type"]:
        return f"{row.key!r} exists with type {row.type!r}, the template needs {body['type']!r}"
    needed = (body.get("constraints") or {}).get("options") or []
    have = (row.constraints or {}).get("options") or []
    missing = [o for o in needed if o not in have]
    if missing:
        return (f"{row.key!r} exists with options {', '.join(have)}; the template needs {', '.join(needed)} "
                f"(missing: {', '.join(missing)})")
    return None


def _apply(session: Session, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    plan = _plan(data)
    stage_map = _stage_map(data, plan) if plan.gates else {}
    existing = {f.key: f for f in session.scalars(select(Field))}
    conflicts = {body["key"]: why for body in plan.fields
                 if body["key"] in existing and (why := _reuse_conflict(existing[body["key"]], body))}
    if conflicts:
        prefix = f"{data.get('field_prefix') or ''}{data['template'].split('-')[0]}_"
        raise ConflictError(
            f"The template cannot reuse field {'; field '.join(conflicts.values())}. Apply it with a field_prefix "
            f"(e.g. {prefix!r}) to create its own fields next to the existing ones.",
            {"field_prefix": [f"Needed: fields {', '.join(conflicts)} exist with another definition."],
             **{f"fields.{key}": [why] for key, why in conflicts.items()}})
    created, reused = [], []
    for body in plan.fields:
        if body["key"] in existing:
            reused.append(body["key"])
        else:
            add_field(session, dict(body))
            created.append(body["key"])
    session.flush()
    personas = [add_persona(session, {k: v for k, v in p.items() if k in DEFINITION}, now) for p in plan.personas]
    gates = []
    for gate in plan.gates:
        stage = stage_map.get(gate["logical_stage"])
        if stage is None:
            continue
        gates.append(add_gate(session, {
            "connection_id": data["connection_id"], "pipeline": data["pipeline"], "stage": stage,
            "mode": data.get("mode", "audit"), "description": gate.get("description"),
            "requirements": [{"field": r["field"], "required_if": r.get("required_if")} for r in gate["required"]]}))
    return {"template": data["template"], "fields_created": created, "fields_reused": reused,
            "personas": [checked_view(session, p, now.date()) for p in personas],
            "gates": [gate_view(g) for g in gates]}
