"""Admin use cases for portrait fields."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.domain.conditions import parse_condition, referenced_fields
from service.domain.errors import DomainError
from service.domain.fields import validate_spec
from service.errors import ConflictError, InvalidInputError
from service.models import Field, FieldMapping, Gate, Persona
from service.services.common import get_or_404, paginate
from service.services.policy import bump_config, field_spec
from service.unit_of_work import UnitOfWork


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


def list_fields(uow: UnitOfWork, page: int, page_size: int) -> dict[str, Any]:
    """A page of fields ordered by key."""
    return paginate(uow.session, select(Field).order_by(Field.key), page, page_size)


def get_field(uow: UnitOfWork, field_id: int) -> Field:
    """One field; NotFoundError if absent."""
    return get_or_404(uow.session, Field, field_id, "Field")


def create_field(uow: UnitOfWork, data: dict[str, Any]) -> Field:
    """Define a field; ConflictError on a duplicate key, InvalidInputError on bad constraints."""
    if uow.session.scalars(select(Field).where(Field.key == data["key"])).first():
        raise ConflictError(f"A field with key {data['key']!r} already exists.")
    row = Field(**{**data, "constraints": _clean_constraints(data.get("constraints") or {})})
    _validate(row)
    uow.session.add(row)
    uow.session.flush()
    return row


def update_field(uow: UnitOfWork, field_id: int, data: dict[str, Any]) -> Field:
    """Change label, group, description or constraints; every connection's policy is refreshed."""
    row = get_field(uow, field_id)
    for name, value in data.items():
        setattr(row, name, _clean_constraints(value) if name == "constraints" else value)
    _validate(row)
    bump_config(uow.session)
    uow.session.flush()
    return row


def delete_field(uow: UnitOfWork, field_id: int) -> None:
    """Delete a field no gate requires; ConflictError names the gates that still do."""
    row = get_field(uow, field_id)
    users = [g.id for g in uow.session.scalars(select(Gate)) if row.key in fields_used_by(g.requirements)]
    if users:
        raise ConflictError(f"Field {row.key!r} is required by gates {users}; change those gates first.")
    personas = [p.id for p in uow.session.scalars(select(Persona))
                if any(c.get("field") == row.key for c in p.criteria or ())]
    if personas:
        raise ConflictError(f"Field {row.key!r} is used by personas {personas}; change those personas first.")
    for mapping in uow.session.scalars(select(FieldMapping).where(FieldMapping.field_id == row.id)):
        uow.session.delete(mapping)
    uow.session.delete(row)
    bump_config(uow.session)
