"""What the admin pages of personas show, composed from the personas, templates and scoring use cases: the
list with the persona templates to start from, and one persona with its criteria (their fields named in the
reader's language), the fields an example lead can be given, and that lead's score explained."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from service.errors import ConflictError
from service.models import Field
from service.runtime import Runtime
from service.services.fit import score_payload
from service.services.personas import get_persona, list_personas, update_persona
from service.services.templates import templates

DEFAULT_WEIGHT = 1  # a criterion stored without a weight weighs this (domain/personas.py:criterion_to_dict)


def personas_overview(runtime: Runtime, page: int, page_size: int) -> dict[str, Any]:
    """A page of personas with their review state, and the persona templates a new persona can start from."""
    return {"personas": list_personas(runtime, {"page": page, "page_size": page_size}),
            "templates": [t for t in templates() if t["kind"] == "persona"]}


def _fields(runtime: Runtime, keys: Sequence[str], language: str) -> dict[str, dict[str, Any]]:
    with runtime.read_uow() as uow:
        rows = uow.session.scalars(select(Field).where(Field.key.in_(list(keys)))).all()
        return {row.key: {"key": row.key, "label": (row.label_ru if language == "ru" else None) or row.label,
                          "type": row.type, "options": list((row.constraints or {}).get("options") or ())}
                for row in rows}


def persona_page(runtime: Runtime, persona_id: int, language: str,
                 example: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Persona `persona_id` (NotFoundError if absent) with its criteria, the fields they look at (in their
    order) and, when `example` values are given, the example lead's fit to this persona (nothing stored;
    None for an inactive persona, which scores nothing)."""
    persona = get_persona(runtime, persona_id)
    keys = list(dict.fromkeys(c["field"] for c in persona["criteria"]))
    fields = _fields(runtime, keys, language)
    criteria = [{**c, "weight": c.get("weight", DEFAULT_WEIGHT), "kind": c.get("kind", "nice"),
                 "label": fields.get(c["field"], {}).get("label", c["field"])} for c in persona["criteria"]]
    preview = None
    if example is not None and persona["active"]:
        preview = score_payload(runtime, {"values": dict(example), "persona_ids": [persona_id],
                                          "language": language})
    return {"persona": persona, "criteria": criteria, "fields": [fields[k] for k in keys if k in fields],
            "preview": preview}


def rename_and_reweigh(runtime: Runtime, persona_id: int, version: int, name: str,
                       weights: Sequence[float]) -> dict[str, Any]:
    """Give persona `persona_id` a new name and new criterion weights (in the order of its criteria) as a new
    version (update_persona: a background rescore when a weight changed). ConflictError when it was changed
    since `version` was read, or when the weights do not match its criteria; NotFoundError, InvalidInputError
    and ConflictError (a taken name) as update_persona."""
    persona = get_persona(runtime, persona_id)
    if persona["version"] != version or len(weights) != len(persona["criteria"]):
        raise ConflictError(f"Persona {persona_id} was changed by someone else (now version {persona['version']}).")
    criteria = [{**c, "weight": weight} for c, weight in zip(persona["criteria"], weights, strict=True)]
    return update_persona(runtime, persona_id, {"name": name, "criteria": criteria})
