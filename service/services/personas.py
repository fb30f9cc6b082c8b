"""Admin use cases for personas: create, change (each change is a new version), review, list, delete."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.personas import PersonaSpecError, criterion_to_dict, parse_criteria, parse_thresholds
from service.errors import ConflictError, InvalidInputError
from service.models import Connection, Field, Gate, Persona, PersonaVersion
from service.runtime import Runtime
from service.services.common import get_or_404, paginate
from service.services.guardrails import mapped_field_keys, persona_warnings
from service.services.rescore import request_rescore
from service.services.stored_config import field_spec

# What a persona version records; changing any of these is a new version.
DEFINITION = ("name", "segment", "ring", "description", "owner", "owner_connection_id", "owner_crm_user_id",
              "review_interval_days", "thresholds", "must_cap", "criteria", "active")
# Changing these changes scores, so they start a background rescore.
SCORING = ("thresholds", "must_cap", "criteria", "active")
DEFAULT_THRESHOLDS = {"A": 80, "B": 60, "C": 40}


def review_due_on(row: Persona) -> date:
    """The day a persona's review falls due (its last review, else its creation, plus the interval)."""
    start = row.last_reviewed_on or row.created_at.date()
    return start + timedelta(days=row.review_interval_days)


def is_stale(row: Persona, today: date) -> bool:
    """Whether a persona is past its review date."""
    return today > review_due_on(row)


def definition_of(row: Persona) -> dict[str, Any]:
    """The versioned definition of a persona, as stored in persona_versions."""
    return {name: getattr(row, name) for name in DEFINITION}


def checked_view(session: Session, row: Persona, today: date, mapped: set[str] | None = None) -> dict[str, Any]:
    """persona_view with the persona's `warnings` (guardrails.persona_warnings); `mapped` may be given when
    viewing many personas."""
    return {**persona_view(row, today), **persona_warnings(session, row, mapped)}


def persona_view(row: Persona, today: date) -> dict[str, Any]:
    """The API view of a persona, with its review state."""
    return {
        "id": row.id, **definition_of(row), "version": row.version,
        "last_reviewed_on": row.last_reviewed_on, "review_due_on": review_due_on(row),
        "stale": is_stale(row, today), "review_notified_at": row.review_notified_at,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def version_view(row: PersonaVersion) -> dict[str, Any]:
    """The API view of one stored persona version."""
    return {"persona_id": row.persona_id, "version": row.version, "change": row.change,
            "definition": row.definition, "created_at": row.created_at}


def _validated(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with criteria and thresholds checked against the stored fields (InvalidInputError lists
    every problem by path) and normalized to their stored shape."""
    cleaned = dict(data)
    errors: dict[str, list[str]] = {}
    if "criteria" in data:
        specs = {f.key: field_spec(f) for f in session.scalars(select(Field))}
        try:
            cleaned["criteria"] = [criterion_to_dict(c) for c in parse_criteria(data["criteria"], specs)]
        except PersonaSpecError as exc:
            errors.update({f"criteria.{path}" if not path.startswith("criteria") else path: messages
                           for path, messages in exc.errors.items()})
    if "thresholds" in data:
        try:
            parse_thresholds(data["thresholds"])
        except PersonaSpecError as exc:
            errors.update({f"thresholds.{path}" if not path.startswith("thresholds") else path: messages
                           for path, messages in exc.errors.items()})
    connection_id = data.get("owner_connection_id")
    if connection_id is not None and session.get(Connection, connection_id) is None:
        errors["owner_connection_id"] = [f"Connection {connection_id} does not exist."]
    if errors:
        raise InvalidInputError("The persona definition is invalid.", errors)
    return cleaned


def _check_name_free(session: Session, name: str, persona_id: int | None = None) -> None:
    other = session.scalars(select(Persona).where(Persona.name == name)).first()
    if other is not None and other.id != persona_id:
        raise ConflictError(f"A persona named {name!r} already exists (id {other.id}).")


def _snapshot(session: Session, row: Persona, change: str, now: datetime) -> None:
    session.add(PersonaVersion(persona_id=row.id, version=row.version, definition=definition_of(row),
                                   change=change, created_at=now))


def add_persona(session: Session, data: dict[str, Any], now: datetime) -> Persona:
    """Add a persona (version 1) to the session's transaction and queue the scoring of every open record
    against it; InvalidInputError for a bad definition, ConflictError for a taken name."""
    cleaned = _validated(session, data)
    _check_name_free(session, cleaned["name"])
    cleaned.setdefault("thresholds", dict(DEFAULT_THRESHOLDS))
    row = Persona(**cleaned, version=1, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    _snapshot(session, row, "create", now)
    request_rescore(session, row.id, trigger="persona", now=now)
    return row


def create_persona(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Create a persona; every open record is then scored against it in the background (see add_persona)."""
    now = runtime.clock()
    with runtime.uow() as uow:
        view = checked_view(uow.session, add_persona(uow.session, data, now), now.date())
        uow.commit()
    runtime.wake_worker()
    return view


def update_persona(runtime: Runtime, persona_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a persona: a new version when anything differs; a background rescore when its scoring rules
    changed. NotFoundError, InvalidInputError, ConflictError as for create."""
    now = runtime.clock()
    with runtime.uow() as uow:
        session = uow.session
        row = get_or_404(session, Persona, persona_id, "Persona")
        cleaned = _validated(session, data)
        if "name" in cleaned:
            _check_name_free(session, cleaned["name"], persona_id)
        changed = [name for name, value in cleaned.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, cleaned[name])
            row.version += 1
            row.updated_at = now
            session.flush()
            _snapshot(session, row, "update", now)
            if any(name in SCORING for name in changed):
                request_rescore(session, row.id, trigger="persona", now=now)
            uow.commit()
        view = checked_view(session, row, now.date())
    runtime.wake_worker()
    return view


def delete_persona(runtime: Runtime, persona_id: int) -> None:
    """Remove a persona and queue a rescore that drops it from every record's scores; ConflictError while a
    gate requires it."""
    now = runtime.clock()
    with runtime.uow() as uow:
        session = uow.session
        row = get_or_404(session, Persona, persona_id, "Persona")
        gates = [g.id for g in session.scalars(select(Gate))
                 if (g.persona_requirement or {}).get("persona_id") == persona_id]
        if gates:
            raise ConflictError(f"Persona {persona_id} is required by gates {gates}; change those gates first.")
        session.delete(row)
        session.flush()
        request_rescore(session, None, trigger="persona", now=now)
        uow.commit()
    runtime.wake_worker()


def mark_reviewed(runtime: Runtime, persona_id: int) -> dict[str, Any]:
    """Record that someone reviewed the portrait today (clears `stale` and re-arms the reminder)."""
    today = runtime.clock().date()
    with runtime.uow() as uow:
        row = get_or_404(uow.session, Persona, persona_id, "Persona")
        row.last_reviewed_on, row.review_notified_at = today, None
        uow.commit()
        return checked_view(uow.session, row, today)


def get_persona(runtime: Runtime, persona_id: int) -> dict[str, Any]:
    """One persona with its review state; NotFoundError if absent."""
    with runtime.read_uow() as uow:
        return checked_view(uow.session, get_or_404(uow.session, Persona, persona_id, "Persona"),
                            runtime.clock().date())


def list_personas(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """A page of personas, filtered by ring, segment, active and stale."""
    today = runtime.clock().date()
    query = select(Persona).order_by(Persona.id)
    for name in ("ring", "segment", "active"):
        if args.get(name) is not None:
            query = query.where(getattr(Persona, name) == args[name])
    with runtime.read_uow() as uow:
        session, mapped = uow.session, mapped_field_keys(uow.session)
        if args.get("stale") is not None:
            rows = [r for r in session.scalars(query) if is_stale(r, today) == args["stale"]]
            start = (args["page"] - 1) * args["page_size"]
            return {"items": [checked_view(session, r, today, mapped) for r in rows[start:start + args["page_size"]]],
                    "total": len(rows), "page": args["page"], "page_size": args["page_size"]}
        result = paginate(session, query, args["page"], args["page_size"])
        return {**result, "items": [checked_view(session, r, today, mapped) for r in result["items"]]}


def list_versions(runtime: Runtime, persona_id: int) -> list[dict[str, Any]]:
    """Every version of a persona, newest first; NotFoundError for an unknown persona."""
    with runtime.read_uow() as uow:
        get_or_404(uow.session, Persona, persona_id, "Persona")
        return [version_view(v) for v in uow.session.scalars(
            select(PersonaVersion).where(PersonaVersion.persona_id == persona_id)
            .order_by(PersonaVersion.version.desc()))]
