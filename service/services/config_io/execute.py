"""Carrying out a plan in the caller's transaction, each object in its own savepoint so every failure is
collected (with the object's path in the file) before the caller rolls everything back. New fields, personas
and gates go through the same helpers as POST /v1/fields, /v1/personas and /v1/gates."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.domain.errors import DomainError
from service.errors import ServiceError
from service.models import Field, FieldMapping, Persona, PersonaVersion
from service.services.config_io.canonical import FIELD_KEYS, settings_entry
from service.services.config_io.current import Current
from service.services.config_io.desired import Desired, stored_constraints
from service.services.config_io.document import join_path
from service.services.config_io.plan import objects
from service.services.fields import add_field
from service.services.gate_admin import add_gate, change_gate
from service.services.personas import SCORING, add_persona, definition_of
from service.services.purchases import check_margin_field, refresh_margins
from service.services.rescore import request_rescore
from service.services.stored_config import bump_config

log = logging.getLogger("qualify.config")
VERBS = {"+": "add", "~": "change", "-": "remove"}
# Removals first where they free a key or a reference, additions after what they refer to.
STEPS = (("~", "connection"), ("+", "field"), ("~", "field"), ("+", "persona"), ("~", "persona"), ("-", "gate"),
         ("-", "mapping"), ("~", "mapping"), ("+", "mapping"), ("+", "gate"), ("~", "gate"), ("-", "persona"),
         ("-", "field"))


class Executor:
    """Applies the changes of one plan to the session's transaction, collecting errors by file path."""

    def __init__(self, session: Session, current: Current, desired: Desired, now: datetime) -> None:
        self.session, self.current, self.desired, self.now = session, current, desired, now
        self.errors: dict[str, list[str]] = {}
        self.entries = objects(desired.document)
        self.rescore = False

    def run(self, changes: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Apply every change in dependency order; the errors by path (empty when all went in)."""
        for action, kind in STEPS:
            step = getattr(self, f"{VERBS[action]}_{kind}")
            for change in changes:
                if (change["action"], change["kind"]) == (action, kind):
                    self._attempt(kind, change["name"], step)
            if action == "-" and kind == "mapping":
                self.session.flush()  # a field mapped anew must be free first
        margins_changed = {c["name"] for c in changes if c["kind"] == "connection"
                           and any(m["attribute"] == "margin_field" for m in c["changes"])}
        for entry in self.desired.document["connections"]:  # after the fields: a margin field may be new
            self._attempt("connection", entry["name"],
                          lambda name: self.settle_margins(name, refresh=name in margins_changed))
        if self.rescore:
            request_rescore(self.session, None, trigger="persona", now=self.now)
        return self.errors

    def settle_margins(self, name: str, *, refresh: bool) -> None:
        """Check the connection's margin field against the fields as the file leaves them and, when the file
        changes it (`refresh`), set its purchases' margins from it."""
        row = self.current.connections[name]
        check_margin_field(self.session, row.margin_field)
        if refresh:
            refresh_margins(self.session, row.id)

    def _attempt(self, kind: str, name: str, step: Callable[[str], None]) -> None:
        path = self.desired.paths.get((kind, name), f"({kind} {name}, not in the file)")
        savepoint = self.session.begin_nested()
        try:
            step(name)
            self.session.flush()
            savepoint.commit()
        except (ServiceError, DomainError) as exc:
            savepoint.rollback()
            found = getattr(exc, "errors", None) or {"": [getattr(exc, "detail", None) or str(exc)]}
            for sub, messages in found.items():
                self.errors.setdefault(join_path(path, sub), []).extend(messages)
        except SQLAlchemyError as exc:
            savepoint.rollback()
            log.warning("config apply: the database refused %s %s: %s", kind, name, exc)
            reason = type(getattr(exc, "orig", None) or exc).__name__
            self.errors.setdefault(path, []).append(f"the database refused this {kind} ({reason})")

    def _connection_id(self, name: str | None) -> int | None:
        return self.current.connections[name].id if name is not None else None

    def change_connection(self, name: str) -> None:
        """Set a connection's settings (never its secrets, address or identity)."""
        row, entry = self.current.connections[name], self.entries[("connection", name)]
        for key, value in settings_entry(entry).items():
            setattr(row, key, value)
        row.config_version += 1

    def add_field(self, key: str) -> None:
        """Create a field as POST /v1/fields does."""
        entry = self.entries[("field", key)]
        add_field(self.session, {k: entry.get(k) for k in FIELD_KEYS if k != "constraints"}
                  | {"constraints": entry.get("constraints") or {}})

    def change_field(self, key: str) -> None:
        """Change a field's label, group, description or constraints (its type is checked unchanged before)."""
        row, entry = self.current.fields[key], self.entries[("field", key)]
        for name in ("label", "label_ru", "group", "description"):
            setattr(row, name, entry.get(name))
        row.constraints = stored_constraints(entry.get("constraints") or {})
        bump_config(self.session)

    def remove_field(self, key: str) -> None:
        """Delete a field (its mappings went before; no gate or persona of the file uses it)."""
        row = self.current.fields[key]
        for mapping in self.session.scalars(select(FieldMapping).where(FieldMapping.field_id == row.id)):
            self.session.delete(mapping)
        self.session.delete(row)
        bump_config(self.session)

    def _persona_data(self, name: str) -> dict[str, Any]:
        entry = dict(self.entries[("persona", name)])
        entry["owner_connection_id"] = self._connection_id(entry.pop("owner_connection", None))
        return entry

    def add_persona(self, name: str) -> None:
        """Create a persona (version 1) as POST /v1/personas does."""
        add_persona(self.session, self._persona_data(name), self.now)

    def change_persona(self, name: str) -> None:
        """A new version of a persona; its scores are recomputed when a scoring rule changed."""
        row, data = self.current.personas[name], self._persona_data(name)
        defaults = {"segment": None, "description": None, "owner": None, "owner_crm_user_id": None}
        changed = [k for k, v in {**defaults, **data}.items() if getattr(row, k) != v]
        for key in changed:
            setattr(row, key, {**defaults, **data}[key])
        row.version += 1
        row.updated_at = self.now
        self.session.flush()
        self.session.add(PersonaVersion(persona_id=row.id, version=row.version, definition=definition_of(row),
                                        change="update", created_at=self.now))
        self.rescore |= any(k in SCORING for k in changed)

    def remove_persona(self, name: str) -> None:
        """Delete a persona (no gate of the file requires it); every record is rescored without it."""
        self.session.delete(self.current.personas[name])
        self.rescore = True

    def gate_data(self, name: str) -> dict[str, Any]:
        """The file's gate `name` as POST /v1/gates takes it (ids for its connection and persona; a persona this
        plan creates once it was added)."""
        entry = self.entries[("gate", name)]
        fit = entry.get("persona_requirement")
        if fit is not None:
            fit = {"persona_id": self._persona_id(fit.get("persona")), "min_score": fit.get("min_score"),
                   "not_disqualified": bool(fit.get("not_disqualified"))}
        return {"connection_id": self._connection_id(entry["connection"]), "pipeline": entry["pipeline"],
                "stage": entry["stage"], "mode": entry["mode"], "description": entry.get("description"),
                "requirements": [{"field": r["field"], "required_if": r.get("required_if")}
                                 for r in entry["requirements"]],
                "persona_requirement": fit}

    def _persona_id(self, name: str | None) -> int | None:
        """The id of a persona by name, stored before or created by this plan."""
        if name is None:
            return None
        row = self.session.scalars(select(Persona).where(Persona.name == name)).first()
        return row.id if row is not None else None

    def add_gate(self, name: str) -> None:
        """Create a gate as POST /v1/gates does (its stage must be mirrored)."""
        add_gate(self.session, self.gate_data(name))

    def change_gate(self, name: str) -> None:
        """Change a gate's mode, description, requirements or fit requirement."""
        row, data = self.current.gates[name], self.gate_data(name)
        change_gate(self.session, row, {key: data[key] for key in ("mode", "description", "requirements",
                                                                   "persona_requirement")})

    def remove_gate(self, name: str) -> None:
        """Delete a gate."""
        row = self.current.gates[name]
        bump_config(self.session, row.connection_id)
        self.session.delete(row)

    def add_mapping(self, name: str) -> None:
        """Map a CRM property to a field."""
        entry = self.entries[("mapping", name)]
        connection_id = self._connection_id(entry["connection"])
        field = self.session.scalars(select(Field).where(Field.key == entry["field"])).one()
        self.session.add(FieldMapping(connection_id=connection_id, field_id=field.id, property=entry["property"],
                                      value_map=entry.get("value_map") or {}))
        bump_config(self.session, connection_id)

    def change_mapping(self, name: str) -> None:
        """Fill a field from another CRM property, or change its value map."""
        row, entry = self.current.mappings[name], self.entries[("mapping", name)]
        row.property, row.value_map = entry["property"], entry.get("value_map") or {}
        bump_config(self.session, row.connection_id)

    def remove_mapping(self, name: str) -> None:
        """Unmap a CRM property."""
        row = self.current.mappings[name]
        bump_config(self.session, row.connection_id)
        self.session.delete(row)

