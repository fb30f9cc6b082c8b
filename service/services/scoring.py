"""Scoring records against the active personas: in the worker's transaction, in rescore batches,
for the API's explanations and for ad-hoc payloads. The scoring itself is pure (domain/scoring.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.domain.fields import FieldSpec
from service.domain.personas import Grade, PersonaSpec, PersonaSpecError, Ring, parse_criteria, parse_thresholds
from service.domain.scoring import CompiledPersona, best_fit, prepare, trend
from service.models import Field, Persona, RecordScore
from service.services.policy import field_spec
from service.services.write_back import queue_write_backs

log = logging.getLogger("qualify.scoring")

_CACHE: dict[tuple[Any, ...], PersonaSet] = {}
_CACHE_SIZE = 16


@dataclass(frozen=True)
class PersonaSet:
    """The active personas, compiled once per set of persona versions and field definitions."""

    fields: dict[str, FieldSpec]
    compiled: tuple[CompiledPersona, ...]
    specs: tuple[PersonaSpec, ...]
    names: dict[int, str]

    def rings(self) -> dict[int, Ring]:
        """Each persona's ring, by id (breaks ties between equal scores)."""
        return {s.id: s.ring for s in self.specs}


def spec_from_definition(persona_id: int, version: int, definition: Mapping[str, Any],
                         fields: Mapping[str, FieldSpec]) -> PersonaSpec:
    """The domain persona of a stored definition (a persona row's or a persona_versions snapshot's)."""
    return PersonaSpec(
        id=persona_id, version=version, name=definition["name"], ring=Ring(definition.get("ring") or "target"),
        criteria=parse_criteria(definition.get("criteria") or [], fields),
        thresholds=parse_thresholds(definition.get("thresholds")), must_cap=Grade(definition.get("must_cap") or "C"),
    )


def field_specs(session: Session) -> dict[str, FieldSpec]:
    """Every stored field's domain definition, by key."""
    return {f.key: field_spec(f) for f in session.scalars(select(Field))}


def persona_set(session: Session) -> PersonaSet:
    """The active personas compiled for scoring (cached while neither personas nor fields change)."""
    rows = list(session.scalars(select(Persona).where(Persona.active.is_(True)).order_by(Persona.id)))
    field_rows = list(session.scalars(select(Field).order_by(Field.id)))
    key = (tuple((r.id, r.version) for r in rows), tuple((f.id, f.updated_at) for f in field_rows))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    fields = {f.key: field_spec(f) for f in field_rows}
    specs: list[PersonaSpec] = []
    for row in rows:
        try:
            specs.append(spec_from_definition(row.id, row.version, {
                "name": row.name, "ring": row.ring, "criteria": row.criteria, "thresholds": row.thresholds,
                "must_cap": row.must_cap}, fields))
        except PersonaSpecError as exc:  # a field it reads changed type since; skipped until fixed
            log.warning("persona %s is not scored: %s %s", row.id, exc, getattr(exc, "errors", ""))
    result = PersonaSet(fields=fields, compiled=tuple(CompiledPersona(s, fields) for s in specs),
                        specs=tuple(specs), names={r.id: r.name for r in rows})
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = result
    return result


def compute_row(personas: PersonaSet, record_id: int, values: Mapping[str, Any], today: date, now: datetime,
                previous: Mapping[str, Any] | None, floor: int) -> dict[str, Any]:
    """The record_scores row of one record: every active persona's score, the best match (None below
    `floor`: no persona fits) and the trend against the previous row."""
    prepared = prepare(values, personas.fields, today)
    before = {s["persona_id"]: s["score"] for s in (previous or {}).get("scores") or ()}
    scores: list[dict[str, Any]] = []
    for compiled, spec in zip(personas.compiled, personas.specs, strict=True):
        score, grade, completeness, disqualified = compiled.quick(prepared)
        scores.append({"persona_id": spec.id, "version": spec.version, "score": score, "grade": str(grade),
                       "completeness": completeness, "disqualified": disqualified,
                       "previous": before.get(spec.id)})
    top = max(scores, key=lambda s: s["score"], default=None)
    best_id = best_fit([(s["persona_id"], s["score"], personas.rings()[s["persona_id"]]) for s in scores], floor)
    best = next((s for s in scores if s["persona_id"] == best_id), top)
    previous_best = (previous or {}).get("best_score")
    current_best = best["score"] if best else None
    return {
        "record_id": record_id, "computed_at": now, "scores": scores,
        "best_persona_id": best_id, "best_score": current_best, "best_grade": best["grade"] if best else None,
        "previous_best_score": previous_best,
        "trend": str(trend(previous_best, current_best)) if current_best is not None else "not_enough_info",
    }


def previous_rows(session: Session, record_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored score rows of some records, by record id."""
    rows = session.execute(select(RecordScore.record_id, RecordScore.best_score, RecordScore.scores)
                           .where(RecordScore.record_id.in_(record_ids)))
    return {rid: {"best_score": best, "scores": scores} for rid, best, scores in rows}


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or replace score rows (one statement; `written` is kept)."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(RecordScore)
    columns = ("computed_at", "scores", "best_persona_id", "best_score", "best_grade", "previous_best_score", "trend")
    session.execute(statement.on_conflict_do_update(
        index_elements=[RecordScore.record_id], set_={c: statement.excluded[c] for c in columns},
        where=RecordScore.computed_at <= statement.excluded.computed_at),
        [{**row, "written": {}} for row in rows])


def score_records(session: Session, items: Iterable[tuple[int, Mapping[str, Any]]], now: datetime,
                  floor: int, personas: PersonaSet | None = None) -> list[dict[str, Any]]:
    """Score (record id, values) pairs against the active personas and store the rows in the caller's
    transaction; returns the rows written."""
    items = list(items)
    if not items:
        return []
    personas = personas or persona_set(session)
    if not personas.compiled:  # nothing to score against: drop what scores of deleted personas remain
        session.execute(delete(RecordScore).where(RecordScore.record_id.in_([rid for rid, _ in items])))
        return []
    previous = previous_rows(session, [rid for rid, _ in items])
    today = now.date()
    rows = [compute_row(personas, rid, values, today, now, previous.get(rid), floor) for rid, values in items]
    write_rows(session, rows)
    queue_write_backs(session, rows, now)
    return rows
