"""The stored configuration as the pure domain sees it (field specs, placeholders), and its version per
connection, which every cache of compiled configuration is keyed by."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.fields import DEFAULT_PLACEHOLDERS, Constraints, FieldSpec, FieldType, normalize_placeholders
from service.models import Connection, Field


def field_spec(row: Field) -> FieldSpec:
    """The domain view of a stored field."""
    c = row.constraints or {}
    constraints = Constraints(
        min=Decimal(str(c["min"])) if c.get("min") is not None else None,
        max=Decimal(str(c["max"])) if c.get("max") is not None else None,
        min_length=c.get("min_length"),
        max_length=c.get("max_length"),
        regex=c.get("regex"),
        options=tuple(c.get("options") or ()),
    )
    return FieldSpec(key=row.key, label=row.label, type=FieldType(row.type), constraints=constraints,
                     label_ru=row.label_ru)


def placeholders_of(connection: Connection) -> frozenset[str]:
    """The placeholder values that count as empty for this connection."""
    if connection.placeholders is None:
        return DEFAULT_PLACEHOLDERS
    return normalize_placeholders(connection.placeholders)


def bump_config(session: Session, connection_id: int | None = None) -> None:
    """Mark one connection's (or every connection's) gating configuration as changed, in the session's
    transaction: caches of the old version are rebuilt on next use."""
    query = select(Connection)
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    for connection in session.scalars(query):
        connection.config_version += 1
