"""Read side of scoring: a record's stored fit explained, and the fit of an ad-hoc payload."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import select

from service.domain.fields import FieldSpec, ValueState, check_value, normalize_for_storage
from service.domain.scoring import CompiledPersona, PersonaScore, best_fit, prepare, trend
from service.errors import InvalidInputError
from service.models import Persona, PersonaVersion, Record, RecordScore
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.scoring import field_specs, persona_set, spec_from_definition
from service.unit_of_work import UnitOfWork


def plain(value: Any) -> Any:
    """A domain result as JSON-shaped data (dataclasses to dicts, enums to their values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def score_view(result: PersonaScore, name: str, previous: int | None) -> dict[str, Any]:
    """The API view of one persona score with its reasons."""
    view = plain(result)
    view["version"] = view.pop("persona_version")
    return {**view, "persona_name": name, "previous": previous, "trend": str(trend(previous, result.score))}


def fit_view(scores: Sequence[dict[str, Any]], rings: Mapping[int, Any], floor: int) -> dict[str, Any]:
    """The best persona (or none below the floor) over explained scores."""
    best_id = best_fit([(s["persona_id"], s["score"], rings[s["persona_id"]]) for s in scores], floor)
    best = next(({"persona_id": s["persona_id"], "persona_name": s["persona_name"], "score": s["score"],
                  "grade": s["grade"]} for s in scores if s["persona_id"] == best_id), None)
    return {"best": best, "no_persona": best is None, "floor": floor, "scores": list(scores)}


def record_scores(runtime: Runtime, record_id: int, language: str) -> dict[str, Any]:
    """A record's stored scores, each explained against the persona version it was computed with
    (scored now, without storing, when the worker has not scored it yet)."""
    floor = runtime.settings.persona_floor
    with runtime.read_uow() as uow:
        record = get_or_404(uow.session, Record, record_id, "Record")
        stored = uow.session.get(RecordScore, record_id)
        fields = field_specs(uow.session)
        names = {p.id: p.name for p in uow.session.scalars(select(Persona))}
        if stored is None:
            today, entries = runtime.clock().date(), _current_entries(uow)
        else:
            today, entries = stored.computed_at.date(), [e for e in stored.scores if e["persona_id"] in names]
        explained, rings = [], {}
        for entry in entries:
            definition = _definition(uow, entry["persona_id"], entry["version"])
            if definition is None:
                continue
            spec = spec_from_definition(entry["persona_id"], entry["version"], definition, fields)
            rings[spec.id] = spec.ring
            result = CompiledPersona(spec, fields).explain(prepare(record.values or {}, fields, today), language)
            explained.append(score_view(result, names[spec.id], entry.get("previous")))
    return {"record_id": record_id, **fit_view(explained, rings, floor),
            "computed_at": stored.computed_at if stored else None,
            "trend": stored.trend if stored else "not_enough_info",
            "previous_best_score": stored.previous_best_score if stored else None}


def _current_entries(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"persona_id": p.id, "version": p.version, "previous": None}
            for p in uow.session.scalars(select(Persona).where(Persona.active.is_(True)).order_by(Persona.id))]


def _definition(uow: UnitOfWork, persona_id: int, version: int) -> dict[str, Any] | None:
    return uow.session.scalar(select(PersonaVersion.definition).where(
        PersonaVersion.persona_id == persona_id, PersonaVersion.version == version))


def _normalized(values: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> tuple[dict[str, Any], dict[str, str]]:
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InvalidInputError(f"No fields with keys {unknown}.", {f"values.{k}": ["Unknown field."] for k in unknown})
    normalized: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for key, raw in values.items():
        check = check_value(fields[key], raw)
        if check.state is ValueState.INVALID:
            invalid[key] = f"not a valid {fields[key].type.value}" + (
                f" ({check.constraint})" if check.constraint and check.constraint != "type" else "")
        else:
            normalized[key] = normalize_for_storage(fields[key], raw)
    return normalized, invalid


def score_payload(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """The fit of ad-hoc field values to the active personas (or those named), explained; nothing stored.
    InvalidInputError for unknown fields or personas."""
    with runtime.read_uow() as uow:
        personas = persona_set(uow.session)
    floor, today = runtime.settings.persona_floor, runtime.clock().date()
    values, invalid = _normalized(data["values"], personas.fields)
    wanted = data.get("persona_ids")
    if wanted:
        missing = sorted(set(wanted) - {s.id for s in personas.specs})
        if missing:
            raise InvalidInputError(f"No active personas with ids {missing}.", {"persona_ids": ["Unknown persona."]})
    prepared = prepare(values, personas.fields, today)
    explained = [score_view(compiled.explain(prepared, data["language"]), personas.names[spec.id], None)
                 for compiled, spec in zip(personas.compiled, personas.specs, strict=True)
                 if not wanted or spec.id in wanted]
    return {**fit_view(explained, personas.rings(), floor), "invalid": invalid}
