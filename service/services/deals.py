"""Turning a CRM deal snapshot into a stored record with normalized portrait values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import CustomerSnapshot, DealSnapshot
from adapters.registry import kind_of
from service.domain.fields import FieldSpec, FieldType, normalize_for_storage
from service.models import Connection, Field, FieldMapping, Pipeline, Record, Stage
from service.services.stored_config import field_spec, placeholders_of


@dataclass(frozen=True)
class MappedField:
    """One CRM property feeding one portrait field."""

    property: str
    spec: FieldSpec
    value_map: dict[str, str]


# A mapped property named `company.<name>` / `contact.<name>` is a property of the deal's company / contact.
CUSTOMER_PREFIXES = ("company.", "contact.")


def mapped_fields(session: Session, connection_id: int) -> list[MappedField]:
    """The connection's deal-property-to-field mappings with their field specs (customer properties, prefixed
    `company.` / `contact.`, are left to customer_fields)."""
    return [m for m in _all_mapped(session, connection_id) if not m.property.startswith(CUSTOMER_PREFIXES)]


def customer_fields(session: Session, connection_id: int) -> dict[str, list[MappedField]]:
    """The connection's mappings of company and contact properties by kind ("company", "contact"), each under
    the CRM's own property name (the `company.` / `contact.` prefix taken off)."""
    found: dict[str, list[MappedField]] = {"company": [], "contact": []}
    for m in _all_mapped(session, connection_id):
        kind, dot, name = m.property.partition(".")
        if dot and f"{kind}." in CUSTOMER_PREFIXES and name:
            found[kind].append(MappedField(name, m.spec, m.value_map))
    return found


def _all_mapped(session: Session, connection_id: int) -> list[MappedField]:
    rows = session.execute(
        select(FieldMapping, Field).join(Field, Field.id == FieldMapping.field_id)
        .where(FieldMapping.connection_id == connection_id)
    ).all()
    return [MappedField(m.property, field_spec(f), dict(m.value_map or {})) for m, f in rows]


def _translate(raw: str | None, mapped: MappedField, separator: str) -> object:
    if raw is None:
        return raw
    if mapped.spec.type is FieldType.MULTI_ENUM:
        return [mapped.value_map.get(part, part) for part in raw.split(separator) if part != ""]
    return mapped.value_map.get(raw, raw)


def portrait_values(snapshot: DealSnapshot | CustomerSnapshot, mapping: list[MappedField],
                    placeholders: frozenset[str], separator: str = ";") -> dict[str, Any]:
    """Normalized field values of a deal (or a customer), keyed by field key (CRM option ids translated by each
    value map)."""
    return {
        m.spec.key: normalize_for_storage(
            m.spec, _translate(snapshot.properties.get(m.property), m, separator), placeholders)
        for m in mapping
    }


MAX_AMOUNT = Decimal("1e15")  # Numeric(20, 4) holds 16 digits before the point


def amount_value(text: str | None) -> Decimal | None:
    """A deal amount as a number: the CRM's plain decimal text ("1234.50"); None when absent, not a finite
    number, or too large to store."""
    if not text:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) < MAX_AMOUNT else None


def find_record(session: Session, connection_id: int, external_id: str, lock: bool = False) -> Record | None:
    """The stored record of a deal; locked for update on PostgreSQL when `lock`."""
    query = select(Record).where(Record.connection_id == connection_id, Record.external_id == external_id)
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def apply_snapshot(session: Session, connection: Connection, record: Record | None, snapshot: DealSnapshot,
                   mapping: list[MappedField]) -> Record:
    """Create or update the record from the snapshot (stage fields are left to the caller)."""
    if record is None:
        record = Record(connection_id=connection.id, external_id=snapshot.id, kind="deal", values={}, version=0)
        session.add(record)
    record.name = snapshot.name
    record.owner_external_id = snapshot.owner_id
    record.amount = snapshot.amount
    record.amount_value = amount_value(snapshot.amount)
    record.currency = snapshot.currency
    record.crm_created_at = snapshot.created_at
    record.closed_at = snapshot.closed_at
    record.company_external_id, record.contact_external_id = snapshot.company_id, snapshot.contact_id
    record.values = portrait_values(snapshot, mapping, placeholders_of(connection),
                                    kind_of(connection.kind).multi_separator)
    if snapshot.modified_at and (record.crm_modified_at is None or snapshot.modified_at >= record.crm_modified_at):
        record.crm_modified_at = snapshot.modified_at
    record.deleted = False
    record.version = (record.version or 0) + 1
    return record


def pipeline_of_stage(session: Session, connection_id: int, stage_id: str) -> str | None:
    """The pipeline (CRM id) that owns a stage id, if the stage is mirrored."""
    return session.scalar(
        select(Pipeline.external_id).join(Stage)
        .where(Pipeline.connection_id == connection_id, Stage.external_id == stage_id)
        .limit(1)
    )


def first_stage(session: Session, connection_id: int, pipeline_id: str) -> str | None:
    """The first open stage of a pipeline (where a deal created in a gated stage is sent back)."""
    return session.scalar(
        select(Stage.external_id).join(Pipeline)
        .where(Pipeline.connection_id == connection_id, Pipeline.external_id == pipeline_id,
               Stage.kind == "open", Stage.archived.is_(False))
        .order_by(Stage.order).limit(1)
    )


def stage_label(session: Session, connection_id: int, pipeline_id: str | None, stage_id: str | None) -> str:
    """A stage's label for messages, or its id when not mirrored."""
    if stage_id is None:
        return ""
    label = session.scalar(
        select(Stage.label).join(Pipeline)
        .where(Pipeline.connection_id == connection_id, Stage.external_id == stage_id,
               *([Pipeline.external_id == pipeline_id] if pipeline_id else []))
        .limit(1)
    )
    return label or stage_id
