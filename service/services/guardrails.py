"""Checks that catch configuration an admin would regret: names that do not exist (with the closest valid
ones), option keys a CRM property does not have, personas scored on fields nothing fills. Pure helpers over
plain values, plus `persona_warnings`, which the persona views and the report share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import PropertyInfo
from service.models import Field, FieldMapping, Persona

MAX_LISTED = 40  # options or names quoted in one message; the rest are counted


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` of `candidates` closest to `name` (case-insensitive, difflib's ratio of at least 0.6)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    return [by_folded[m] for m in difflib.get_close_matches(name.casefold(), list(by_folded), n=n, cutoff=0.6)]


def listed(values: Sequence[str]) -> str:
    """Values quoted for a message, at most MAX_LISTED of them, the others counted."""
    shown = ", ".join(values[:MAX_LISTED])
    return shown + (f" and {len(values) - MAX_LISTED} more" if len(values) > MAX_LISTED else "")


def suggestion(name: str, candidates: Iterable[str]) -> str:
    """' Closest: a, b.' for a message about an unknown `name`, or '' when nothing is close."""
    near = closest(name, candidates)
    return f" Closest: {', '.join(near)}." if near else ""


def unknown_property(name: str, properties: Mapping[str, PropertyInfo]) -> str | None:
    """Why `name` cannot be mapped (the CRM has no such property), naming the closest property names and the
    property whose label it is; None when the CRM has it."""
    if name in properties:
        return None
    by_label = [p.name for p in properties.values() if p.label.casefold() == name.casefold()]
    if by_label:
        return f"The CRM has no property {name!r}; {name!r} is the label of {by_label[0]!r}: map the name."
    near = closest(name, [*properties, *(p.label for p in properties.values())])
    names = list(dict.fromkeys(p.name for p in properties.values() if p.name in near or p.label in near))
    hint = f" Closest: {', '.join(names)}." if names else " GET /v1/connections/{id}/properties lists them."
    return f"The CRM has no deal property {name!r}.{hint}"


def unknown_option_keys(value_map: Mapping[str, str], prop: PropertyInfo) -> dict[str, str]:
    """For each key of `value_map` that is not an option value of `prop` (a property with options), why, listing
    the valid options with their labels; {} when every key is an option or the property has none."""
    if not prop.options:
        return {}
    values = {o.value for o in prop.options}
    shown = listed([f"{o.value} ({o.label})" if o.label and o.label != o.value else o.value for o in prop.options])
    problems = {}
    for key in value_map:
        if key in values:
            continue
        labelled = [o.value for o in prop.options if o.label.casefold() == key.casefold()]
        hint = f" {key!r} is the label of option {labelled[0]!r}: use the value." if labelled else ""
        problems[key] = f"{key!r} is not an option of {prop.name!r}.{hint} Its options: {shown}."
    return problems


def crm_mapping_errors(prop: str, value_map: Mapping[str, str], properties: Mapping[str, PropertyInfo],
                       path: str) -> dict[str, list[str]]:
    """What is wrong with mapping the CRM property `prop` (and its `value_map`) given the CRM's `properties`,
    by the path of the wrong value under `path`: an unknown property, else value_map keys that are not options."""
    missing = unknown_property(prop, properties)
    if missing:
        return {f"{path}.property": [missing]}
    return {f"{path}.value_map.{key}": [why] for key, why in unknown_option_keys(value_map, properties[prop]).items()}


def unknown_field_values(value_map: Mapping[str, str], options: Sequence[str], field: str) -> dict[str, str]:
    """For each value of `value_map` that is not one of the field's `options` (an enum field), why."""
    if not options:
        return {}
    return {key: f"{value!r} is not an option of field {field!r}; its options: {listed(list(options))}."
            for key, value in value_map.items() if value not in options}


def mapped_field_keys(session: Session) -> set[str]:
    """The keys of every field some connection maps a CRM property to."""
    return set(session.scalars(select(Field.key).join(FieldMapping, FieldMapping.field_id == Field.id)))


def unmapped_criteria(criteria: Sequence[Mapping[str, Any]], mapped: set[str]) -> tuple[list[str], bool]:
    """The fields the criteria use that no connection maps (in the criteria's order), and whether that is every
    field they use."""
    used = list(dict.fromkeys(c["field"] for c in criteria if c.get("field")))
    missing = [key for key in used if key not in mapped]
    return missing, bool(missing) and len(missing) == len(used)


def unmapped_criteria_warnings(missing: Sequence[str], every: bool) -> list[str]:
    """The API's warnings for criteria on the fields `missing` (unmapped_criteria; `every`: all the fields they
    use): such a criterion is unknown on every lead, so it neither matches nor mismatches; with none mapped, every
    lead scores 50 / C with completeness 0."""
    if not missing:
        return []
    names = ", ".join(missing)
    if every:
        return [f"No connection maps a CRM property to {names}: every criterion is unknown on every lead, so every "
                "lead scores 50 (grade C) with completeness 0 and the persona matches no one and everyone alike. "
                "Map these fields (PUT /v1/connections/{id}/mappings)."]
    return [f"No connection maps a CRM property to {names}: these criteria are unknown on every lead and only the "
            "other criteria decide the score. Map these fields (PUT /v1/connections/{id}/mappings)."]


def persona_warnings(session: Session, persona: Persona, mapped: set[str] | None = None) -> dict[str, Any]:
    """What is wrong with a persona that no error stops (today: criteria on fields no connection maps):
    {"warnings": the API's sentences, "unmapped_fields", "all_unmapped"} (the pages word them in their language);
    `mapped` (mapped_field_keys) may be given when checking many personas. For the views and the report."""
    missing, every = unmapped_criteria(persona.criteria or [], mapped_field_keys(session) if mapped is None else mapped)
    return {"warnings": unmapped_criteria_warnings(missing, every), "unmapped_fields": missing, "all_unmapped": every}


def active_persona_warnings(session: Session) -> list[dict[str, Any]]:
    """Every active persona that has warnings (persona_warnings), with its id and name, by id: what the report
    shows next to the persona mix (a persona on unmapped fields makes the non-target share read 0 %)."""
    mapped = mapped_field_keys(session)
    found = ((row, persona_warnings(session, row, mapped))
             for row in session.scalars(select(Persona).where(Persona.active.is_(True)).order_by(Persona.id)))
    return [{"persona_id": row.id, "name": row.name, **warned} for row, warned in found if warned["warnings"]]
