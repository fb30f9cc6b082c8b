"""Admin use cases for portrait fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.conditions import parse_condition, referenced_fields
from service.domain.errors import DomainError
from service.domain.fields import validate_spec
from service.errors import ConflictError, InvalidInputError
from service.models import Connection, Field, FieldMapping, Gate, Persona
from service.runtime import Runtime
from service.services.common import get_or_404, paginate, row_view
from service.services.stored_config import bump_config, field_spec


def fields_used_by(requirements: list[dict[str, Any]]) -> set[str]:
    """Every field key a gate's requirements name, as required field or in a condition."""
    used: set[str] = set()
    for requirement in requirements:
        used.add(requirement["field"])
        if requirement.get("required_if"):
            used |= referenced_fields(parse_condition(requirement["required_if"]))
    return used


def _clean_constraints(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in raw.items() if v is not None and v != []}
    for bound in ("min", "max"):
        if bound in out:
            out[bound] = str(out[bound])
    return out


def _validate(row: Field) -> None:
    try:
        validate_spec(field_spec(row))
    except DomainError as exc:
        raise InvalidInputError(str(exc), getattr(exc, "errors", None) or None) from exc


def field_view(row: Field) -> dict[str, Any]:
    """The API view of a field."""
    return row_view(row)


def list_fields(runtime: Runtime, page: int, page_size: int) -> dict[str, Any]:
    """A page of fields ordered by key."""
    with runtime.read_uow() as uow:
        result = paginate(uow.session, select(Field).order_by(Field.key), page, page_size)
        return {**result, "items": [field_view(f) for f in result["items"]]}


def get_field(runtime: Runtime, field_id: int) -> dict[str, Any]:
    """One field; NotFoundError if absent."""
    with runtime.read_uow() as uow:
        return field_view(get_or_404(uow.session, Field, field_id, "Field"))


def add_field(session: Session, data: dict[str, Any]) -> Field:
    """Add a field to the session's transaction; ConflictError on a duplicate key, InvalidInputError on bad
    constraints."""
    if session.scalars(select(Field).where(Field.key == data["key"])).first():
        raise ConflictError(f"A field with key {data['key']!r} already exists.")
    row = Field(**{**data, "constraints": _clean_constraints(data.get("constraints") or {})})
    _validate(row)
    session.add(row)
    session.flush()
    return row


def create_field(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Define a field; ConflictError on a duplicate key, InvalidInputError on bad constraints."""
    with runtime.uow() as uow:
        row = add_field(uow.session, data)
        uow.commit()
        return field_view(row)


def update_field(runtime: Runtime, field_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change label, group, description or constraints; every connection's policy is refreshed."""
    with runtime.uow() as uow:
        row = get_or_404(uow.session, Field, field_id, "Field")
        for name, value in data.items():
            setattr(row, name, _clean_constraints(value) if name == "constraints" else value)
        _validate(row)
        bump_config(uow.session)
        uow.session.flush()
        uow.commit()
        return field_view(row)


def delete_field(runtime: Runtime, field_id: int) -> str:
    """Delete a field no gate requires, with its mappings; its key. ConflictError names the gates, personas and
    connections (margin field) that still use it."""
    with runtime.uow() as uow:
        session = uow.session
        row = get_or_404(session, Field, field_id, "Field")
        users = [g.id for g in session.scalars(select(Gate)) if row.key in fields_used_by(g.requirements)]
        if users:
            raise ConflictError(f"Field {row.key!r} is required by gates {users}; change those gates first.")
        personas = [p.id for p in session.scalars(select(Persona))
                    if any(c.get("field") == row.key for c in p.criteria or ())]
        if personas:
            raise ConflictError(f"Field {row.key!r} is used by personas {personas}; change those personas first.")
        margins = list(session.scalars(select(Connection.id).where(Connection.margin_field == row.key)))
        if margins:
            raise ConflictError(f"Field {row.key!r} is the margin field of connections {margins}; change those "
                                f"connections first.")
        for mapping in session.scalars(select(FieldMapping).where(FieldMapping.field_id == row.id)):
            session.delete(mapping)
        key = row.key
        session.delete(row)
        bump_config(session)
        uow.commit()
        return key
