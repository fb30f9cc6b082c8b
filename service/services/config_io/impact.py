"""The impact preview a plan carries for gates: for each connection whose gates the file changes, what all the
gates the file gives it would do if enforced, as POST /v1/gates/preview answers it (gate_preview.preview_gates,
not a second count), read inside the plan's own transaction so the file's new fields, personas and gates count."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from service.errors import InvalidInputError
from service.runtime import Runtime
from service.services.config_io.canonical import gate_name
from service.services.config_io.document import ConfigFileError, join_path
from service.services.config_io.execute import Executor
from service.services.config_io.plan import impact_note, objects
from service.services.gate_admin import find_stage
from service.services.gate_preview import DEFAULT_DAYS, MAX_DAYS, preview_in

PROPOSED_KEYS = ("pipeline", "stage", "mode", "requirements", "persona_requirement")
_ITEM = re.compile(r"^gates\[(\d+)\]")


def check_days(days: int) -> int:
    """`days` if it is a replay window preview_gates accepts (1..730); InvalidInputError otherwise."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"replay_days must be 1 to {MAX_DAYS}.", {"replay_days": [f"Give 1 to {MAX_DAYS}."]})
    return days


def changed_connections(executor: Executor, changes: list[dict[str, Any]]) -> list[str]:
    """The names of the connections (in the file) one of whose gates the plan adds, changes or removes."""
    stored = objects(executor.current.document)
    names = {(executor.entries.get(("gate", c["name"])) or stored[("gate", c["name"])])["connection"]
             for c in changes if c["kind"] == "gate" and c["action"] in ("+", "~", "-")}
    return [c["name"] for c in executor.desired.document["connections"] if c["name"] in names]


def preview_plan(runtime: Runtime, session: Session, executor: Executor, changes: list[dict[str, Any]], *,
                 source: str, days: int = DEFAULT_DAYS) -> list[dict[str, Any]]:
    """One gate preview per connection whose gates change and that keeps at least one (its `connection` name
    added), with `days` of moves replayed; each gate change's open_deals / would_stop / note set from its stage.
    Runs in `session`'s transaction after `executor` carried the plan out. ConfigFileError (paths in the file
    `source`) when the preview refuses a gate, such as one on an unknown stage."""
    previews = []
    for name in changed_connections(executor, changes):
        connection_id = executor.current.connections[name].id
        # A gate left on a stage the CRM archived gates nothing (the preview would refuse it): left out.
        names = [gate_name(g["connection"], g["pipeline"], g["stage"])
                 for g in executor.desired.document["gates"]
                 if g["connection"] == name and not _archived(session, connection_id, g)]
        if not names:
            continue
        proposed = [{k: v for k, v in executor.gate_data(n).items() if k in PROPOSED_KEYS} for n in names]
        data = {"connection_id": connection_id, "gates": proposed, "days": days}
        try:
            preview = preview_in(session, data, runtime.clock())
        except InvalidInputError as exc:
            errors = _in_file(exc, [executor.desired.paths[("gate", n)] for n in names])
            raise ConfigFileError(source, errors, executor.desired.lines) from exc
        _note_gates(changes, dict(zip(names, preview["open_deals"]["stages"], strict=True)))
        previews.append({"connection": name, **preview})
    return previews


def _archived(session: Session, connection_id: int, gate: dict[str, Any]) -> bool:
    """Whether the gate's stage is one the CRM archived (an unknown one is for the preview to name)."""
    try:
        return find_stage(session, connection_id, gate["pipeline"], gate["stage"]).archived
    except InvalidInputError:
        return False


def _in_file(exc: InvalidInputError, paths: list[str]) -> dict[str, list[str]]:
    """The preview's errors with `gates[i]` (the i-th gate it was given) replaced by that gate's path in the file."""
    def moved(path: str) -> str:
        found = _ITEM.match(path)
        return join_path(paths[int(found.group(1))], path[found.end():].lstrip(".")) if found else path

    return {moved(path): messages for path, messages in (exc.errors or {}).items()} or {"": [exc.detail]}


def _note_gates(changes: list[dict[str, Any]], stages: dict[str, dict[str, Any]]) -> None:
    """Each gate added, or changed in mode or requirements: the open deals the file's gates would block on their
    next move into its stage, out of those checked."""
    for change in changes:
        touched = {c["attribute"].split(".")[0] for c in change["changes"]}
        stage = stages.get(change["name"])
        if change["kind"] != "gate" or change["action"] not in ("+", "~") or not touched & {"mode", "requirements"} \
                or stage is None:
            continue
        change["open_deals"], change["would_stop"] = stage["of"], stage["would_block"]
        change["note"] = impact_note(stage["of"], stage["would_block"])
