"""Reading a configuration file into the canonical document it asks for: the API's schemas first, then the
domain's rules (field specs, persona criteria and thresholds, gate requirements and conditions), each object
checked against the file's own fields, personas and connections. Every problem is listed with its YAML path."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from marshmallow import ValidationError

from schemas.config import ConfigFileSchema
from service.domain.condition_parse import validate_condition
from service.domain.conditions import parse_condition
from service.domain.errors import DomainError
from service.domain.fields import FieldSpec, validate_spec
from service.domain.personas import criterion_to_dict, parse_criteria, parse_thresholds
from service.domain.pipeline import parse_requirements
from service.models import Field
from service.services.config_io.canonical import (
    GATE_KEYS,
    PERSONA_KEYS,
    compact,
    connection_entry_of,
    document,
    field_entry,
    gate_name,
    mapping_entry,
    mapping_name,
    persona_requirement_entry,
    requirement_entry,
)
from service.services.config_io.document import ConfigFileError, flatten, join_path, parse
from service.services.guardrails import unknown_field_values
from service.services.personas import DEFAULT_THRESHOLDS
from service.services.stored_config import field_spec

Add = Callable[[str, str], None]


class Desired(NamedTuple):
    """What a file asks for: the canonical document, the file path of each object by (kind, key), the field
    specs it defines and the line of each path."""

    document: dict[str, Any]
    paths: dict[tuple[str, str], str]
    specs: dict[str, FieldSpec]
    lines: dict[str, int]


def stored_constraints(raw: dict[str, Any]) -> dict[str, Any]:
    """Constraints as a field row stores them (what POST /v1/fields stores): set keys only, bounds as text."""
    out = {k: v for k, v in raw.items() if v is not None and v != []}
    for bound in ("min", "max"):
        if bound in out:
            out[bound] = str(out[bound])
    return out


def read_file(text: str, source: str, *, as_json: bool = False) -> Desired:
    """The canonical document `text` asks for; ConfigFileError listing every problem by its path."""
    data, lines = parse(text, source, as_json=as_json)
    if not isinstance(data, dict):
        raise ConfigFileError(source, {"": ["must be a mapping of version, connections, fields, personas, gates"]},
                              lines)
    try:
        loaded = ConfigFileSchema().load(data)
    except ValidationError as exc:
        raise ConfigFileError(source, flatten(exc.messages), lines) from None
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    paths: dict[tuple[str, str], str] = {}
    connections = _keyed(paths, add, "connection", "connections", loaded["connections"], lambda c: c["name"])
    fields, specs = _fields(paths, add, loaded["fields"])
    mappings = {name: _mappings(paths, add, name, paths[("connection", name)], entry["mappings"], specs)
                for name, entry in connections.items()}
    personas = _keyed(paths, add, "persona", "personas", loaded["personas"], lambda p: p["name"])
    gates = _keyed(paths, add, "gate", "gates", loaded["gates"],
                   lambda g: gate_name(g["connection"], g["pipeline"], g["stage"]))
    persona_entries = [_persona(add, paths[("persona", n)], p, specs, connections) for n, p in personas.items()]
    gate_entries = [_gate(add, paths[("gate", n)], g, specs, connections, personas) for n, g in gates.items()]
    if errors:
        raise ConfigFileError(source, errors, lines)
    connection_entries = [connection_entry_of(entry, mappings[name]) for name, entry in connections.items()]
    return Desired(document(connection_entries, fields, persona_entries, gate_entries), paths, specs, lines)


def _keyed(paths: dict[tuple[str, str], str], add: Add, kind: str, section: str, items: Iterable[dict[str, Any]],
           key: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
    """The section's objects by key; an object whose key was already given is refused."""
    found: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items):
        name = key(item)
        if name in found:
            add(f"{section}[{i}]", f"{kind} {name!r} is already given at {paths[(kind, name)]}")
            continue
        found[name] = item
        paths[(kind, name)] = f"{section}[{i}]"
    return found


def _domain_errors(add: Add, path: str, exc: DomainError) -> None:
    for sub, messages in (getattr(exc, "errors", None) or {"": [str(exc)]}).items():
        for message in messages:
            add(join_path(path, sub), message)


def _fields(paths: dict[tuple[str, str], str], add: Add,
            items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, FieldSpec]]:
    entries, specs = [], {}
    for key, item in _keyed(paths, add, "field", "fields", items, lambda f: f["key"]).items():
        row = Field(**{**item, "constraints": stored_constraints(item.get("constraints") or {})})
        try:
            spec = field_spec(row)
            validate_spec(spec)
        except DomainError as exc:
            _domain_errors(add, paths[("field", key)], exc)
            continue
        specs[key] = spec
        entries.append(field_entry(row))
    return entries, specs


def _mappings(paths: dict[tuple[str, str], str], add: Add, connection: str, at: str, items: list[dict[str, Any]],
              specs: dict[str, FieldSpec]) -> list[dict[str, Any]]:
    """A connection's mappings: a property may feed several fields, a field is fed by one property."""
    out = []
    for name, item in _keyed(paths, add, "mapping", f"{at}.mappings", items,
                             lambda m: mapping_name(connection, m["field"])).items():
        path, spec = paths[("mapping", name)], specs.get(item["field"])
        if spec is None:
            add(f"{path}.field", f"no field {item['field']!r} in this file's fields")
        elif spec.constraints.options:
            for key, why in unknown_field_values(item.get("value_map") or {}, spec.constraints.options,
                                                 spec.key).items():
                add(f"{path}.value_map.{key}", why)
        out.append(mapping_entry(item["property"], item["field"], item.get("value_map")))
    return out


def _persona(add: Add, path: str, item: dict[str, Any], specs: dict[str, FieldSpec],
             connections: dict[str, Any]) -> dict[str, Any]:
    owner = item.get("owner_connection")
    if owner is not None and owner not in connections:
        add(f"{path}.owner_connection", f"no connection {owner!r} in this file's connections")
    values = {**item, "thresholds": item.get("thresholds") or dict(DEFAULT_THRESHOLDS)}
    try:
        values["criteria"] = [criterion_to_dict(c) for c in parse_criteria(item["criteria"], specs)]
    except DomainError as exc:
        _domain_errors(add, path, exc)
    try:
        parse_thresholds(values["thresholds"])
    except DomainError as exc:
        _domain_errors(add, path, exc)
    return compact(values, PERSONA_KEYS)


def _gate(add: Add, path: str, item: dict[str, Any], specs: dict[str, FieldSpec], connections: dict[str, Any],
          personas: dict[str, Any]) -> dict[str, Any]:
    if item["connection"] not in connections:
        add(f"{path}.connection", f"no connection {item['connection']!r} in this file's connections")
    try:
        parse_requirements(item["requirements"], specs.keys(), path="requirements")
    except DomainError as exc:
        _domain_errors(add, path, exc)
    else:
        for i, requirement in enumerate(item["requirements"]):
            if requirement.get("required_if") is not None:
                where = f"requirements[{i}].required_if"
                try:
                    validate_condition(parse_condition(requirement["required_if"], path=where), specs, path=where)
                except DomainError as exc:
                    _domain_errors(add, path, exc)
    fit = item.get("persona_requirement")
    if fit is not None:
        if fit.get("persona") is not None and fit["persona"] not in personas:
            add(f"{path}.persona_requirement.persona", f"no persona {fit['persona']!r} in this file's personas")
        if fit.get("min_score") is None and not fit.get("not_disqualified"):
            add(f"{path}.persona_requirement", "set min_score, not_disqualified or both")
    if not item["requirements"] and fit is None:
        add(f"{path}.requirements", "a gate needs field requirements, a persona_requirement or both")
    return compact({**item, "requirements": [requirement_entry(r) for r in item["requirements"]],
                    "persona_requirement": persona_requirement_entry(fit, (fit or {}).get("persona"))},
                   GATE_KEYS)

