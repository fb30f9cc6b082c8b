"""The canonical form of each configured object, from the database and from a validated file, so an export is
stable and a plan compares like with like. References are by key: a connection by name, a field by key, a
persona by name, a gate by connection name + pipeline + stage (CRM ids)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.domain.fields import constraints_to_dict
from service.models import Connection, Field, Gate, Persona
from service.services.stored_config import field_spec

SETTINGS = ("language", "signature_versions", "placeholders", "rate_limits", "sync_interval_seconds",
            "score_write_back", "margin_field")
# What a connection created through the API has when a setting is not given (ConnectionInSchema).
SETTING_DEFAULTS: dict[str, Any] = {"language": "en", "signature_versions": ["v3"], "placeholders": None,
                                    "rate_limits": None, "sync_interval_seconds": 300, "score_write_back": None,
                                    "margin_field": None}
FIELD_KEYS = ("key", "label", "label_ru", "type", "group", "description", "constraints")
PERSONA_KEYS = ("name", "segment", "ring", "description", "owner", "owner_connection", "owner_crm_user_id",
                "review_interval_days", "thresholds", "must_cap", "criteria", "active")
GATE_KEYS = ("connection", "pipeline", "stage", "mode", "description", "requirements", "persona_requirement")


def compact(entry: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """`entry`'s keys in `order`, leaving out those that are None (absent and null mean the same)."""
    return {key: entry[key] for key in order if entry.get(key) is not None}


def gate_name(connection: str, pipeline: str, stage: str) -> str:
    """A gate's key in a plan."""
    return f"{connection}/{pipeline}/{stage}"


def mapping_name(connection: str, field: str) -> str:
    """A mapping's key in a plan: the field it fills (a field is fed by one property of a connection)."""
    return f"{connection}/{field}"


def settings_entry(values: Mapping[str, Any]) -> dict[str, Any]:
    """A connection's settings, empty ones as None."""
    out = {name: values.get(name, SETTING_DEFAULTS[name]) for name in SETTINGS}
    write_back = {k: v for k, v in (out["score_write_back"] or {}).items() if v is not None}
    out["score_write_back"] = dict(sorted(write_back.items())) or None
    out["rate_limits"] = out["rate_limits"] or None
    return out


def connection_entry(row: Connection, mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """A stored connection's entry: name, kind, settings, mappings by property."""
    return connection_entry_of({"name": row.name, "kind": row.kind, **{k: getattr(row, k) for k in SETTINGS}},
                               mappings)


def connection_entry_of(values: Mapping[str, Any], mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """A connection's entry from its name, kind and settings (a setting not given has the API's default)."""
    entry = {"name": values["name"], "kind": values["kind"], **settings_entry(values),
             "mappings": sorted(mappings, key=lambda m: (m["property"], m["field"])) or None}
    return compact(entry, ("name", "kind", *SETTINGS, "mappings"))


def mapping_entry(prop: str, field: str, value_map: Mapping[str, Any] | None) -> dict[str, Any]:
    """One mapping (an empty value map left out)."""
    return compact({"property": prop, "field": field, "value_map": dict(value_map or {}) or None},
                   ("property", "field", "value_map"))


def field_entry(row: Field) -> dict[str, Any]:
    """A field's entry; constraints as the domain renders them (numbers as numbers)."""
    constraints = constraints_to_dict(field_spec(row).constraints)
    return compact({**{k: getattr(row, k) for k in FIELD_KEYS}, "constraints": constraints or None}, FIELD_KEYS)


def persona_entry(row: Persona, connection_names: Mapping[int, str]) -> dict[str, Any]:
    """A persona's definition, its owner's connection by name."""
    values = {k: getattr(row, k) for k in PERSONA_KEYS if k != "owner_connection"}
    values["owner_connection"] = connection_names.get(row.owner_connection_id) if row.owner_connection_id else None
    values["criteria"] = list(row.criteria or [])
    return compact(values, PERSONA_KEYS)


def requirement_entry(requirement: Mapping[str, Any]) -> dict[str, Any]:
    """A gate requirement (no required_if: always required)."""
    return compact({"field": requirement["field"], "required_if": requirement.get("required_if")},
                   ("field", "required_if"))


def persona_requirement_entry(stored: Mapping[str, Any] | None, persona_name: str | None) -> dict[str, Any] | None:
    """A gate's fit requirement with its persona by name (None: the best fit over every persona)."""
    if stored is None:
        return None
    return compact({"persona": persona_name, "min_score": stored.get("min_score"),
                    "not_disqualified": bool(stored.get("not_disqualified"))},
                   ("persona", "min_score", "not_disqualified"))


def gate_entry(row: Gate, connection_names: Mapping[int, str], persona_names: Mapping[int, str]) -> dict[str, Any]:
    """A stored gate's entry."""
    fit = row.persona_requirement
    persona_id = (fit or {}).get("persona_id")
    persona = persona_names.get(persona_id) if persona_id is not None else None
    return compact({
        "connection": connection_names[row.connection_id], "pipeline": row.stage.pipeline.external_id,
        "stage": row.stage.external_id, "mode": row.mode, "description": row.description,
        "requirements": [requirement_entry(r) for r in row.requirements or []],
        "persona_requirement": persona_requirement_entry(fit, persona),
    }, GATE_KEYS)


def document(connections: list[dict[str, Any]], fields: list[dict[str, Any]], personas: list[dict[str, Any]],
             gates: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole configuration in its stable order: each list sorted by its objects' keys."""
    return {
        "version": 1,
        "connections": sorted(connections, key=lambda c: c["name"]),
        "fields": sorted(fields, key=lambda f: f["key"]),
        "personas": sorted(personas, key=lambda p: p["name"]),
        "gates": sorted(gates, key=lambda g: (g["connection"], g["pipeline"], g["stage"])),
    }
