"""Built-in templates: portrait fields, example personas and qualification-framework gates, as pure data.

``list_templates()`` describes them; ``expand_template(key)`` turns one into a ``TemplatePlan`` of
API-shaped dicts (``POST /v1/fields`` bodies, persona JSON, gate requirements per *logical* stage)
that a service applies; nothing here touches storage. Keys: "customer-portrait" and "b2b-icp"
(kind "persona": fields plus one example persona, no gates) and "bant", "champ", "meddpicc",
"gpctba-ci", "spiced" (kind "gates": fields plus cumulative requirements for the logical stages
qualified, discovery, proposal, negotiation, and a separate "lost" gate requiring the loss reason).

A field key shared by several templates (budget, authority, timeline, challenges, pain,
loss_reason) has the same definition in each, so applying a second template can reuse the fields
the first one created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from service.domain.fieldtypes import language_code
from service.domain.templates.deal_frameworks import MEDDPICC, SPICED
from service.domain.templates.frameworks import BANT, CHAMP, GPCTBA_CI
from service.domain.templates.icp import B2B_ICP
from service.domain.templates.model import (
    GATE_STAGES,
    STAGE_LOST,
    Definition,
    TemplateError,
    TemplateInfo,
    TemplatePlan,
)
from service.domain.templates.portrait import CUSTOMER_PORTRAIT

__all__ = [
    "GATE_STAGES",
    "TemplateError",
    "TemplateInfo",
    "TemplatePlan",
    "expand_template",
    "list_templates",
]

_REGISTRY: dict[str, Definition] = {
    d.info.key: d for d in (CUSTOMER_PORTRAIT, B2B_ICP, BANT, CHAMP, MEDDPICC, GPCTBA_CI, SPICED)
}
_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PREFIX_RE = re.compile(r"[a-z][a-z0-9_]*")
_LANG_INDEX = {"en": 0, "ru": 1}
_TEXT_KEYS = frozenset({"name", "segment", "description"})


def list_templates() -> list[TemplateInfo]:
    """Every built-in template's description, persona templates first, then the gate frameworks."""
    return [d.info for d in _REGISTRY.values()]


def expand_template(key: str, *, language: str = "en", field_prefix: str = "") -> TemplatePlan:
    """Expand a built-in template into the fields, personas and gate requirements it would create.

    ``language`` ("en" or "ru"; other tags fall back as in ``language_code``) picks the persona
    texts, field descriptions and gate descriptions; fields always carry both ``label`` and
    ``label_ru``. ``field_prefix`` is prepended verbatim to every field key, consistently in the
    fields, persona criteria and gate requirements (include your separator: "acme_" gives
    "acme_budget"). Gate requirements are cumulative along qualified -> discovery -> proposal ->
    negotiation; the "lost" gate is separate. Every call returns fresh dicts.

    Raises TemplateError for an unknown key (the message lists the known keys) or a prefix that
    would make any key invalid (``^[a-z][a-z0-9_]{0,63}$``).
    """
    definition = _REGISTRY.get(key) if isinstance(key, str) else None
    if definition is None:
        known = ", ".join(_REGISTRY)
        raise TemplateError(f"unknown template {key!r}; known templates: {known}",
                            {"key": [f"unknown template; expected one of: {known}"]})
    _check_prefix(field_prefix, [f["key"] for f in definition.fields])
    lang = _LANG_INDEX[language_code(language)]
    fields = tuple(_expand_field(f, lang, field_prefix) for f in definition.fields)
    personas = tuple(_expand_persona(p, lang, field_prefix) for p in definition.personas)
    return TemplatePlan(fields=fields, personas=personas, gates=_expand_gates(definition, lang, field_prefix))


def _check_prefix(prefix: object, keys: Sequence[str]) -> None:
    if not isinstance(prefix, str):
        raise TemplateError("invalid field prefix", {"field_prefix": ["must be a string"]})
    if prefix == "":
        return
    problems: list[str] = []
    if _PREFIX_RE.fullmatch(prefix) is None:
        problems.append("must start with a lowercase letter and contain only a-z, 0-9 and _")
    too_long = [k for k in keys if _KEY_RE.fullmatch(prefix + k) is None]
    if too_long and not problems:
        problems.append(f"makes keys longer than 64 characters: {', '.join(prefix + k for k in too_long)}")
    if problems:
        raise TemplateError(f"invalid field prefix {prefix!r}", {"field_prefix": problems})


def _pick(name: str, value: object, lang: int) -> object:
    """A bilingual ``(en, ru)`` text (name, segment, description) becomes one string; the rest is copied."""
    if name in _TEXT_KEYS and isinstance(value, tuple):
        return value[lang]
    return _copy(value)


def _copy(value: object) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _expand_field(raw: Mapping[str, Any], lang: int, prefix: str) -> dict[str, Any]:
    out = {name: _pick(name, value, lang) for name, value in raw.items()}
    out["key"] = prefix + raw["key"]
    return out


def _expand_persona(raw: Mapping[str, Any], lang: int, prefix: str) -> dict[str, Any]:
    out = {name: _pick(name, value, lang) for name, value in raw.items() if name != "criteria"}
    out["criteria"] = [{**_copy(c), "field": prefix + c["field"]} for c in raw["criteria"]]
    return out


def _expand_gates(definition: Definition, lang: int, prefix: str) -> tuple[dict[str, Any], ...]:
    labels = {f["key"]: f["label_ru" if lang else "label"] for f in definition.fields}
    title = definition.info.title_ru if lang else definition.info.title
    gates: list[dict[str, Any]] = []
    required: list[str] = []
    for step in definition.steps:
        required += [k for k in step.adds if k not in required]
        names = ", ".join(labels[k] for k in required)
        text = (f"{title}: для перехода на этап должны быть заполнены поля: {names}." if lang
                else f"{title}: {names} must be filled to enter this stage.")
        if step.note is not None:
            text += " " + step.note[lang]
        gates.append({"logical_stage": step.stage, "required": [{"field": prefix + k} for k in required],
                      "description": text})
    if definition.lost:
        names = ", ".join(labels[k] for k in definition.lost)
        text = (f"{title}: укажите, почему сделка проиграна ({names})." if lang
                else f"{title}: record why the deal was lost ({names}).")
        gates.append({"logical_stage": STAGE_LOST, "required": [{"field": prefix + k} for k in definition.lost],
                      "description": text})
    return tuple(gates)
