"""The plan: each object the file adds (+), changes (~) or removes (-) compared with what is stored, with the
attributes that change, and the lines `qualify config apply` prints. Pure: documents in, plan out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from service.services.config_io.canonical import gate_name, mapping_name

TOP_FIELDS, TOP_OWNERS = 3, 5  # how many missing fields per stage and owners a plan prints
KEEP_NOTE = "not in the file: kept (apply never deletes a connection); its mappings and gates are removed"
ORDER = {"connection": 0, "field": 1, "mapping": 2, "persona": 3, "gate": 4}


def objects(doc: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of a document by (kind, key); a connection without its mappings, each mapping alone."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for connection in doc["connections"]:
        found[("connection", connection["name"])] = {k: v for k, v in connection.items() if k != "mappings"}
        for mapping in connection.get("mappings") or []:
            found[("mapping", mapping_name(connection["name"], mapping["field"]))] = {
                "connection": connection["name"], **mapping}
    found.update({("field", f["key"]): f for f in doc["fields"]})
    found.update({("persona", p["name"]): p for p in doc["personas"]})
    found.update({("gate", gate_name(g["connection"], g["pipeline"], g["stage"])): g for g in doc["gates"]})
    return found


def attribute_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The attributes that differ (one level into objects: `constraints.min`), absent as None."""
    out: list[dict[str, Any]] = []
    for key in dict.fromkeys([*old, *new]):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            out += [{**change, "attribute": f"{key}.{change['attribute']}"}
                    for change in attribute_changes(before, after)]
        else:
            out.append({"attribute": key, "old": before, "new": after})
    return out


def plan_changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What turns `current` into `desired`. Connections are never added or removed: a stored connection the file
    leaves out is listed as kept (=); the file's connections must exist (checked before planning)."""
    have, want = objects(current), objects(desired)
    changes = []
    for kind, name in sorted({*have, *want}, key=lambda k: (ORDER[k[0]], k[1])):
        old, new = have.get((kind, name)), want.get((kind, name))
        if kind == "connection" and new is None:
            changes.append(_change("=", kind, name, [], KEEP_NOTE))
        elif old is None and new is not None:
            changes.append(_change("+", kind, name, attribute_changes({}, new)))
        elif new is None:
            changes.append(_change("-", kind, name, []))
        elif old != new:
            changes.append(_change("~", kind, name, attribute_changes(old or {}, new)))
    return changes


def _change(action: str, kind: str, name: str, changes: list[dict[str, Any]],
            note: str | None = None) -> dict[str, Any]:
    return {"action": action, "kind": kind, "name": name, "changes": changes, "open_deals": None,
            "would_stop": None, "note": note}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "{...}"
    return json.dumps(value, ensure_ascii=False)


def _described(change: dict[str, Any]) -> str:
    old, new = change["old"], change["new"]
    if isinstance(old, list | dict) and isinstance(new, list | dict) and _shown(old) == _shown(new):
        return f"{change['attribute']} changed"
    return f"{change['attribute']} {_shown(old)} -> {_shown(new)}"


def impact_note(open_deals: int, would_stop: int) -> str:
    """What a gate's field requirements would do to the open deals before its stage, were it enforced."""
    return f"would block {would_stop} of {open_deals} open deals before this stage if enforced"


def _top(items: list[str], shown: int, what: str) -> str:
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {more} more {what}" if more > 0 else "")


def preview_lines(preview: Mapping[str, Any]) -> list[str]:
    """One connection's gate preview, compact: the open deals blocked per stage with the fields they miss most,
    and the replayed moves that would have been blocked, in all, by owner and by stage."""
    deals, replay = preview["open_deals"], preview["replay"]
    lines = [f"Impact of {preview['connection']}'s gates in this file if enforced (persona requirements not "
             "evaluated):",
             f"  open deals blocked on their next move: {deals['totals']['would_block']} of {deals['totals']['of']}"]
    for stage in deals["stages"]:
        line = (f"    {stage['stage_label']} ({stage['pipeline']}/{stage['stage']}, {stage['mode']}): "
                f"{stage['would_block']} of {stage['of']}")
        if stage["missing"]:
            line += "; missing " + _top([f"{m['field']} {m['deals']}" for m in stage["missing"]], TOP_FIELDS,
                                        "fields")
        lines.append(line)
    lines.append(f"  moves of the last {replay['days']} days that would have been blocked: {replay['would_block']} "
                 f"of {replay['allowed_then']} allowed then ({replay['moves']} moves)")
    if replay["by_owner"]:
        owners = [f"{o['owner_name'] or o['owner_id'] or 'no owner'} {o['would_block']} of {o['moves']}"
                  for o in replay["by_owner"]]
        lines.append("    by owner (of their moves): " + _top(owners, TOP_OWNERS, "owners"))
    lines.append("    by stage (of the moves allowed then): " + ", ".join(
        f"{s['stage_label']} {s['would_block']} of {s['allowed_then']}" for s in replay["by_stage"]))
    return lines


def plan_lines(changes: list[dict[str, Any]], warnings: list[str], previews: list[dict[str, Any]] | None = None, *,
               dry_run: bool, applied: bool) -> list[str]:
    """The plan as the CLI prints it and the API returns it in `lines`: the changes, the warnings, each gate
    preview, the counts."""
    lines = []
    for change in changes:
        line = f"{change['action']} {change['kind']} {change['name']}"
        if change["action"] == "~":
            line += ": " + "; ".join(_described(c) for c in change["changes"])
        if change["note"]:
            line += f" ({change['note']})"
        lines.append(line)
    lines += [f"! {warning}" for warning in warnings]
    for preview in previews or []:
        lines += preview_lines(preview)
    counts = summary(changes)
    lines.append(f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['remove']} to remove. "
                 "Connections are never created or deleted by apply, only their settings changed.")
    lines.append("Dry run: nothing was changed." if dry_run else ("Applied." if applied else "Nothing applied."))
    return lines


def summary(changes: list[dict[str, Any]]) -> dict[str, int]:
    """How many objects are added, changed and removed."""
    count = {action: sum(1 for c in changes if c["action"] == action) for action in ("+", "~", "-")}
    return {"add": count["+"], "change": count["~"], "remove": count["-"]}
