"""Admin use cases for a connection's property-to-field mappings, checked against the CRM's live properties."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import CUSTOMER_KINDS, CRMAdapter, PropertyInfo
from adapters.errors import CRMError
from service.errors import InvalidInputError, UpstreamError
from service.models import Connection, Field, FieldMapping
from service.runtime import Runtime
from service.services.common import get_or_404, repeated
from service.services.connections import ask_crm
from service.services.guardrails import crm_mapping_errors, unknown_field_values
from service.services.stored_config import bump_config

log = logging.getLogger("qualify.connections")


def get_mappings(runtime: Runtime, connection_id: int) -> list[dict[str, Any]]:
    """Every property-to-field mapping of a connection; NotFoundError for an unknown connection."""
    with runtime.read_uow() as uow:
        return _mappings(uow.session, connection_id)


def _mappings(session: Session, connection_id: int) -> list[dict[str, Any]]:
    get_or_404(session, Connection, connection_id, "Connection")
    rows = session.execute(
        select(FieldMapping, Field.key)
        .join(Field, Field.id == FieldMapping.field_id)
        .where(FieldMapping.connection_id == connection_id)
        .order_by(FieldMapping.property, Field.key)
    ).all()
    return [{"property": m.property, "field": key, "value_map": m.value_map} for m, key in rows]


def with_customer_properties(adapter: CRMAdapter) -> tuple[PropertyInfo, ...]:
    """The CRM's deal properties under their own names, then its company and contact properties prefixed
    `company.` / `contact.` (what a mapping of a customer property names). A CRM that cannot list its companies'
    or contacts' properties gives only the others."""
    found = list(adapter.list_deal_properties())
    for kind in CUSTOMER_KINDS:
        try:
            listed = adapter.list_customer_properties(kind)
        except CRMError as exc:
            log.info("%s properties not listed: %s", kind, exc.vendor_message or exc.message)
            continue
        found.extend(dataclasses.replace(p, name=f"{kind}.{p.name}", label=f"{kind.title()}: {p.label}")
                     for p in listed)
    return tuple(found)


def live_properties(runtime: Runtime, connection_id: int) -> tuple[dict[str, PropertyInfo] | None, list[str]]:
    """The CRM's deal properties by name, with its company and contact properties prefixed `company.` /
    `contact.`, read live, or None with a warning saying why they could not be read (the CRM unreachable, the
    token refused, an unreadable answer). NotFoundError for an unknown connection."""
    try:
        properties = ask_crm(runtime, connection_id, with_customer_properties)
    except (CRMError, UpstreamError) as exc:
        reason = exc.detail if isinstance(exc, UpstreamError) else (exc.vendor_message or exc.message)
        log.info("connection %s: mappings not checked against the CRM: %s", connection_id, reason)
        return None, [f"The CRM's properties could not be read, so the mapped properties and value_map keys could "
                      f"not be checked ({reason}); test the connection (POST /v1/connections/{connection_id}/test)."]
    return {p.name: p for p in properties}, []


def _check(mappings: list[dict[str, Any]], fields: dict[str, Field],
           properties: dict[str, PropertyInfo] | None) -> dict[str, list[str]]:
    errors = {f"mappings[{i}].field": [f"No field with key {m['field']!r}."]
              for i, m in enumerate(mappings) if m["field"] not in fields}
    for i in repeated([(m["property"], m["field"]) for m in mappings]):
        errors[f"mappings[{i}].property"] = ["This property is mapped to this field twice."]
    for i in repeated([m["field"] for m in mappings]):
        errors.setdefault(f"mappings[{i}].field", ["This field is mapped twice (one property feeds a field)."])
    for i, m in enumerate(mappings):
        value_map = m.get("value_map") or {}
        field = fields.get(m["field"])
        if field is not None and field.type in ("enum", "multi_enum"):
            options = (field.constraints or {}).get("options") or []
            for key, why in unknown_field_values(value_map, options, field.key).items():
                errors[f"mappings[{i}].value_map.{key}"] = [why]
        if properties is not None:
            errors.update(crm_mapping_errors(m["property"], value_map, properties, f"mappings[{i}]"))
    return errors


def replace_mappings(runtime: Runtime, connection_id: int, mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """Replace the mappings (one property may feed several fields); returns them with `warnings`. Each property
    must be one of the CRM's deal properties and each value_map key one of its options (read live; when the CRM
    cannot be read they are accepted with a warning). NotFoundError; InvalidInputError naming the closest
    properties and the valid options, unknown fields, and a field mapped twice."""
    properties, warnings = live_properties(runtime, connection_id) if mappings else (None, [])
    with runtime.uow() as uow:
        session = uow.session
        get_or_404(session, Connection, connection_id, "Connection")
        fields = {f.key: f for f in session.scalars(select(Field))}
        errors = _check(mappings, fields, properties)
        if errors:
            named = [m["property"] for i, m in enumerate(mappings) if f"mappings[{i}].property" in errors]
            detail = f"Some mappings are invalid{': unknown properties ' + ', '.join(named) if named else ''}."
            raise InvalidInputError(detail, errors)
        for old in session.scalars(select(FieldMapping).where(FieldMapping.connection_id == connection_id)):
            session.delete(old)
        session.flush()
        for m in mappings:
            session.add(FieldMapping(connection_id=connection_id, field_id=fields[m["field"]].id,
                                     property=m["property"], value_map=m.get("value_map") or {}))
        bump_config(session, connection_id)
        session.flush()
        result = _mappings(session, connection_id)
        uow.commit()
        return {"mappings": result, "warnings": warnings}


def set_field_mapping(runtime: Runtime, connection_id: int, field_key: str, prop: str | None,
                      value_map: dict[str, str] | None = None) -> dict[str, Any]:
    """Map the CRM property `prop` (with its `value_map`) to the field `field_key` on a connection, keeping the
    connection's mappings of every other field; None unmaps the field. Goes through replace_mappings, so the
    same guardrails apply, with this field's mapping first (its problems are under `mappings[0]`); returns and
    raises as replace_mappings."""
    others = [m for m in get_mappings(runtime, connection_id) if m["field"] != field_key]
    mine = [{"property": prop, "field": field_key, "value_map": dict(value_map or {})}] if prop else []
    return replace_mappings(runtime, connection_id, [*mine, *others])
