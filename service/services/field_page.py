"""What the admin pages of fields show, composed from the fields and mappings use cases: every field with the
connections that map a CRM property to it, and one field with, per active connection, its mapping and the
CRM's live deal properties (with their options) to choose from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from adapters.base import PropertyInfo
from service.domain.fieldtypes import FieldType
from service.errors import InvalidInputError
from service.models import Connection, Field, FieldMapping
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.fields import field_view, get_field
from service.services.mappings import live_properties, set_field_mapping

FIELD_TYPES = tuple(t.value for t in FieldType)
MINE = "mappings[0]."  # set_field_mapping puts the saved field's mapping first


def _label(row: Field, language: str) -> str:
    return (row.label_ru if language == "ru" else None) or row.label


def fields_overview(runtime: Runtime, language: str) -> dict[str, Any]:
    """Every field ordered by key (label in `language`) with the active connections that map a CRM property to
    it, and the field types a new field may have."""
    with runtime.read_uow() as uow:
        rows = uow.session.scalars(select(Field).order_by(Field.key)).all()
        mapped = uow.session.execute(
            select(FieldMapping.field_id, FieldMapping.property, Connection.id, Connection.name)
            .join(Connection, Connection.id == FieldMapping.connection_id)
            .where(Connection.active.is_(True)).order_by(Connection.id)).all()
        by_field: dict[int, list[dict[str, Any]]] = {}
        for field_id, prop, connection_id, name in mapped:
            by_field.setdefault(field_id, []).append({"connection_id": connection_id, "connection": name,
                                                      "property": prop})
        fields = [{**field_view(row), "shown_label": _label(row, language), "mappings": by_field.get(row.id, [])}
                  for row in rows]
    return {"fields": fields, "types": FIELD_TYPES}


def _property_view(p: PropertyInfo) -> dict[str, Any]:
    return {"name": p.name, "label": p.label, "type": p.type,
            "options": [{"value": o.value, "label": o.label} for o in p.options]}


def _matches(p: PropertyInfo, query: str) -> bool:
    folded = query.casefold()
    return folded in p.name.casefold() or folded in p.label.casefold()


def _section(runtime: Runtime, connection: dict[str, Any], mapping: dict[str, Any] | None, query: str,
             chosen: str | None) -> dict[str, Any]:
    properties, warnings = live_properties(runtime, connection["id"])
    shown = chosen if chosen is not None else (mapping or {}).get("property")
    section: dict[str, Any] = {"connection": connection, "mapping": mapping, "reachable": properties is not None,
                               "warnings": warnings, "property": shown, "properties": [], "total": 0,
                               "shown": None}
    if properties is None:
        return section
    ordered = sorted(properties.values(), key=lambda p: (p.label.casefold(), p.name))
    # The shown property stays listed whatever the filter, so the select never silently picks another one.
    section["properties"] = [_property_view(p) for p in ordered
                             if not query or _matches(p, query) or p.name == shown]
    section["total"] = len(ordered)
    if shown in properties:
        section["shown"] = _property_view(properties[shown])
    return section


def field_page(runtime: Runtime, field_id: int, language: str, query: str = "",
               chosen: Mapping[int, str] | None = None) -> dict[str, Any]:
    """Field `field_id` (NotFoundError if absent) with, per active connection, its mapping and the CRM's deal
    properties read live (those whose name or label contains `query`, and the shown one), or why they could not
    be read. The shown property of a connection is the one `chosen` names for it, else the mapped one, with its
    options for a value map."""
    field = get_field(runtime, field_id)
    with runtime.read_uow() as uow:
        connections: list[dict[str, Any]] = [{"id": c.id, "name": c.name, "kind": c.kind} for c in uow.session.scalars(
            select(Connection).where(Connection.active.is_(True)).order_by(Connection.id))]
        mappings = {m.connection_id: {"property": m.property, "value_map": dict(m.value_map or {})}
                    for m in uow.session.scalars(select(FieldMapping).where(FieldMapping.field_id == field_id))}
    label = (field["label_ru"] if language == "ru" else None) or field["label"]
    options = list((field["constraints"] or {}).get("options") or ())
    return {"field": {**field, "shown_label": label, "options": options},
            "query": query,
            "sections": [_section(runtime, c, mappings.get(c["id"]), query, (chosen or {}).get(c["id"]))
                         for c in connections]}


def save_mapping(runtime: Runtime, field_id: int, connection_id: int, prop: str | None,
                 value_map: Mapping[str, str]) -> dict[str, Any]:
    """Map the CRM property `prop` (None: no property) with `value_map` to field `field_id` on a connection,
    keeping its other mappings (set_field_mapping: the API's guardrails). NotFoundError for an unknown field or
    connection; InvalidInputError whose `errors` name this mapping's problems by "property" and
    "value_map.<option>" (another mapping's problems keep their API path)."""
    with runtime.read_uow() as uow:
        key = get_or_404(uow.session, Field, field_id, "Field").key
    try:
        return set_field_mapping(runtime, connection_id, key, prop, dict(value_map))
    except InvalidInputError as exc:
        errors = {path.removeprefix(MINE): why for path, why in (exc.errors or {}).items()}
        raise InvalidInputError(exc.detail, errors) from None
