"""Applying a configuration file: validate it, plan it against what is stored, and apply the plan in one
transaction, or nothing. A dry run validates and plans the same way, carries the plan out, and rolls it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.runtime import Runtime
from service.services.config_io.current import Current, read_current
from service.services.config_io.desired import Desired, read_file
from service.services.config_io.document import ConfigFileError
from service.services.config_io.execute import Executor
from service.services.config_io.impact import check_days, preview_plan
from service.services.config_io.plan import objects, plan_changes, plan_lines, summary
from service.services.gate_preview import DEFAULT_DAYS
from service.services.guardrails import crm_mapping_errors
from service.services.mappings import live_properties


def apply_config(runtime: Runtime, content: bytes | str, *, source: str, as_json: bool = False,
                 dry_run: bool, replay_days: int = DEFAULT_DAYS) -> dict[str, Any]:
    """Plan the file `content` (named `source` in errors) against the stored configuration and, unless
    `dry_run`, apply it in one transaction. New or changed mappings are checked against the CRM's live
    properties first (a warning when the CRM cannot be read). For each connection whose gates change, the plan
    carries the gate preview of all its gates in the file (`previews`, with `replay_days` of moves replayed).
    ConfigFileError (422) lists every problem by its path in the file; InvalidInputError for `replay_days` outside
    1..730; ConflictError when two stored connections share a name. Returns the plan."""
    check_days(replay_days)
    desired = read_file(_text(content, source), source, as_json=as_json)
    with runtime.read_uow() as uow:
        planned, connection_ids = _plan(uow.session, desired, source)
    warnings = _check_against_crm(runtime, desired, planned, connection_ids, source)
    with runtime.uow() as uow:
        session = uow.session
        changes, _ = _plan(session, desired, source)
        executor = Executor(session, read_current(session), desired, runtime.clock())
        problems = executor.run(changes)
        if problems:
            raise ConfigFileError(source, problems, desired.lines)
        previews = preview_plan(runtime, session, executor, changes, source=source, days=replay_days)
        if not dry_run:
            uow.commit()
    if not dry_run and executor.rescore:
        runtime.wake_worker()
    return {"dry_run": dry_run, "applied": not dry_run, **summary(changes), "changes": changes,
            "warnings": warnings, "previews": previews,
            "lines": plan_lines(changes, warnings, previews, dry_run=dry_run, applied=not dry_run)}


def _text(content: bytes | str, source: str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(source, {"": [f"not UTF-8 text (byte {exc.start})"]}) from None


def _plan(session: Session, desired: Desired, source: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The changes, and the ids of the file's connections by name; ConfigFileError for instance_problems."""
    current = read_current(session)
    problems = instance_problems(current, desired)
    if problems:
        raise ConfigFileError(source, problems, desired.lines)
    return plan_changes(current.document, desired.document), {n: c.id for n, c in current.connections.items()}


def instance_problems(current: Current, desired: Desired) -> dict[str, list[str]]:
    """What the file asks that this instance cannot do: a connection that does not exist (apply never creates
    one: it needs credentials) or of another CRM, a field whose type would change."""
    errors: dict[str, list[str]] = {}
    for entry in desired.document["connections"]:
        path = desired.paths[("connection", entry["name"])]
        row = current.connections.get(entry["name"])
        if row is None:
            errors[f"{path}.name"] = [
                f"no connection named {entry['name']!r} on this instance; create it with its credentials first "
                "(POST /v1/connections, then refresh its pipelines), then apply again"]
        elif row.kind != entry["kind"]:
            errors[f"{path}.kind"] = [f"connection {entry['name']!r} is a {row.kind} connection here; its kind "
                                      "cannot change"]
    for entry in desired.document["fields"]:
        stored = current.fields.get(entry["key"])
        if stored is not None and stored.type != entry["type"]:
            errors[f"{desired.paths[('field', entry['key'])]}.type"] = [
                f"field {entry['key']!r} is {stored.type} here; a field's type cannot change (give the new one "
                "another key)"]
    return errors


def _check_against_crm(runtime: Runtime, desired: Desired, changes: list[dict[str, Any]],
                       connection_ids: dict[str, int], source: str) -> list[str]:
    """The CRM properties and option values of new or changed mappings, read live (no transaction open), as
    PUT /v1/connections/{id}/mappings checks them; the warnings when a CRM cannot be read."""
    wanted = objects(desired.document)
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    checked: dict[int, Any] = {}
    for change in changes:
        if change["kind"] != "mapping" or change["action"] not in ("+", "~"):
            continue
        entry, path = wanted[("mapping", change["name"])], desired.paths[("mapping", change["name"])]
        connection_id = connection_ids[entry["connection"]]
        if connection_id not in checked:
            checked[connection_id], found = live_properties(runtime, connection_id)
            warnings += found
        properties = checked[connection_id]
        if properties is not None:
            errors.update(crm_mapping_errors(entry["property"], entry.get("value_map") or {}, properties, path))
    if errors:
        raise ConfigFileError(source, errors, desired.lines)
    return warnings

