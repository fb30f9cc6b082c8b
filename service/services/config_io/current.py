"""The configuration stored on this instance, as rows by key and as the canonical document an export writes."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import ConflictError
from service.models import Connection, Field, FieldMapping, Gate, Persona
from service.services.config_io.canonical import (
    connection_entry,
    document,
    field_entry,
    gate_entry,
    gate_name,
    mapping_entry,
    mapping_name,
    persona_entry,
)


class Current(NamedTuple):
    """The stored configuration: its canonical document and its rows by key."""

    document: dict[str, Any]
    connections: dict[str, Connection]
    fields: dict[str, Field]
    personas: dict[str, Persona]
    gates: dict[str, Gate]
    mappings: dict[str, FieldMapping]


def read_current(session: Session) -> Current:
    """Read every connection, field, mapping, persona and gate; ConflictError when two connections share a name
    (the file names connections, so each name must be unique)."""
    connections: dict[str, Connection] = {}
    for row in session.scalars(select(Connection).order_by(Connection.id)):
        if row.name in connections:
            raise ConflictError(
                f"Connections {connections[row.name].id} and {row.id} are both named {row.name!r}; the configuration "
                "file names connections, so rename one first (PATCH /v1/connections/{id}).")
        connections[row.name] = row
    names = {row.id: name for name, row in connections.items()}
    fields = {row.key: row for row in session.scalars(select(Field))}
    personas = {row.name: row for row in session.scalars(select(Persona))}
    persona_names = {row.id: name for name, row in personas.items()}
    mappings: dict[str, FieldMapping] = {}
    entries: dict[int, list[dict[str, Any]]] = {row.id: [] for row in connections.values()}
    for mapping, key in session.execute(select(FieldMapping, Field.key).join(Field, Field.id == FieldMapping.field_id)):
        mappings[mapping_name(names[mapping.connection_id], key)] = mapping
        entries[mapping.connection_id].append(mapping_entry(mapping.property, key, mapping.value_map))
    gates = {}
    gate_entries = []
    for gate in session.scalars(select(Gate)):
        entry = gate_entry(gate, names, persona_names)
        gates[gate_name(entry["connection"], entry["pipeline"], entry["stage"])] = gate
        gate_entries.append(entry)
    doc = document([connection_entry(row, entries[row.id]) for row in connections.values()],
                   [field_entry(row) for row in fields.values()],
                   [persona_entry(row, names) for row in personas.values()], gate_entries)
    return Current(doc, connections, fields, personas, gates, mappings)
