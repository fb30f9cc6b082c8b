"""Changing one criterion of a persona from its admin page: add one, replace one or remove one, checked by the
API's persona schema and saved by the same use case as PATCH /v1/personas/{id} (update_persona), so the page
and the API accept and refuse exactly the same criteria. Also what the page's criteria editor offers: every
field with its type, options and the matchers its type allows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from schemas.personas import PersonaPatchSchema
from service.domain.fieldtypes import FieldType
from service.domain.personas import ALLOWED_MATCHERS, Matcher
from service.errors import ConflictError, InvalidInputError
from service.models import Field
from service.runtime import Runtime
from service.services.persona_page import persona_page
from service.services.personas import get_persona, update_persona

MATCHER_ORDER = tuple(m.value for m in Matcher)


def editor_fields(runtime: Runtime, language: str) -> list[dict[str, Any]]:
    """Every field ordered by key: key, label in `language`, type, options and the matchers its type allows (in
    the order of the Matcher enum)."""
    with runtime.read_uow() as uow:
        rows = uow.session.scalars(select(Field).order_by(Field.key)).all()
        return [{"key": row.key, "label": (row.label_ru if language == "ru" else None) or row.label,
                 "type": row.type, "options": list((row.constraints or {}).get("options") or ()),
                 "matchers": [m for m in MATCHER_ORDER if m in ALLOWED_MATCHERS[FieldType(row.type)]]}
                for row in rows]


def persona_editor_page(runtime: Runtime, persona_id: int, language: str,
                        example: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """persona_page (NotFoundError if absent) with `all_fields`: the fields a criterion may look at
    (editor_fields)."""
    return {**persona_page(runtime, persona_id, language, example), "all_fields": editor_fields(runtime, language)}


def _flatten(messages: Any, path: str, out: dict[str, list[str]]) -> None:
    if isinstance(messages, Mapping):
        for key, inner in messages.items():
            _flatten(inner, f"{path}.{key}" if path else str(key), out)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.setdefault(path, []).extend(messages)
    else:
        out.setdefault(path, []).append(str(messages))


def _save(runtime: Runtime, persona_id: int, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        data = PersonaPatchSchema().load({"criteria": criteria})
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        _flatten(exc.normalized_messages(), "", errors)
        raise InvalidInputError("The persona definition is invalid.", errors) from None
    return update_persona(runtime, persona_id, data)


def _current(runtime: Runtime, persona_id: int, version: int, index: int | None) -> list[dict[str, Any]]:
    persona = get_persona(runtime, persona_id)
    criteria = [dict(c) for c in persona["criteria"]]
    if persona["version"] != version or (index is not None and not 0 <= index < len(criteria)):
        raise ConflictError(f"Persona {persona_id} was changed by someone else (now version {persona['version']}).")
    return criteria


def add_criterion(runtime: Runtime, persona_id: int, version: int, criterion: dict[str, Any]) -> dict[str, Any]:
    """Append `criterion` (a criterion as the API takes it) to persona `persona_id` read at `version`: a new
    version and a background rescore. ConflictError when the persona changed since `version`; InvalidInputError
    with errors by path (`criteria.<n>.values`) when the schema or the domain refuses it, nothing saved;
    NotFoundError for an unknown persona."""
    criteria = _current(runtime, persona_id, version, None)
    return _save(runtime, persona_id, [*criteria, criterion])


def replace_criterion(runtime: Runtime, persona_id: int, version: int, index: int,
                      criterion: dict[str, Any]) -> dict[str, Any]:
    """Put `criterion` in place of criterion number `index` (from 0) of persona `persona_id` read at
    `version`; errors as add_criterion."""
    criteria = _current(runtime, persona_id, version, index)
    criteria[index] = criterion
    return _save(runtime, persona_id, criteria)


def remove_criterion(runtime: Runtime, persona_id: int, version: int, index: int) -> dict[str, Any]:
    """Remove criterion number `index` (from 0) of persona `persona_id` read at `version`; errors as
    add_criterion."""
    criteria = _current(runtime, persona_id, version, index)
    del criteria[index]
    return _save(runtime, persona_id, criteria)
