"""The shapes built-in templates are written in, and small builders that keep the data modules terse.

Everything here is plain data: bilingual texts are ``(english, russian)`` pairs, field definitions
are dicts in the shape of the ``POST /v1/fields`` body (``description`` may be a bilingual pair
until expansion picks one language), persona criteria are dicts in the persona criterion JSON
shape, and gate templates are per-stage *increments* that expansion turns into cumulative lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.errors import DomainError

Bilingual = tuple[str, str]
"""A text in English and Russian, in that order."""

KIND_PERSONA = "persona"
KIND_GATES = "gates"

STAGE_QUALIFIED = "qualified"
STAGE_DISCOVERY = "discovery"
STAGE_PROPOSAL = "proposal"
STAGE_NEGOTIATION = "negotiation"
STAGE_LOST = "lost"
FORWARD_STAGES: tuple[str, ...] = (STAGE_QUALIFIED, STAGE_DISCOVERY, STAGE_PROPOSAL, STAGE_NEGOTIATION)
"""The logical open stages of a gate template, in pipeline order (requirements accumulate along them)."""
GATE_STAGES: tuple[str, ...] = (*FORWARD_STAGES, STAGE_LOST)
"""Every logical stage a gate template fills; ``lost`` is separate and not cumulative."""


class TemplateError(DomainError):
    """A template key is unknown, or expansion options (field prefix) would produce invalid keys."""


@dataclass(frozen=True)
class TemplateInfo:
    """What a built-in template is: its key, titles, kind ("persona" or "gates") and logical stages.

    ``stages`` lists the logical stages a gate template has requirements for (empty for persona
    templates); the caller maps each to a real CRM stage id before creating gates.
    """

    key: str
    title: str
    title_ru: str
    kind: str
    description: str
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplatePlan:
    """What applying a template creates, as API-shaped dicts.

    ``fields``: ``POST /v1/fields`` bodies. ``personas``: persona JSON (name, segment, ring,
    description, review_interval_days, criteria). ``gates``: ``{"logical_stage", "required",
    "description"}`` where ``required`` holds ``POST /v1/gates`` requirement items
    (``{"field": key}``); the caller maps each logical stage to a CRM stage.
    """

    fields: tuple[dict[str, Any], ...]
    personas: tuple[dict[str, Any], ...]
    gates: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class StageStep:
    """The fields a gate template adds at one logical stage (``adds`` may be empty: "all confirmed")."""

    stage: str
    adds: tuple[str, ...]
    note: Bilingual | None = None


@dataclass(frozen=True)
class Definition:
    """One built-in template: its info plus the raw (unprefixed, bilingual) data."""

    info: TemplateInfo
    fields: tuple[Mapping[str, Any], ...]
    personas: tuple[Mapping[str, Any], ...] = ()
    steps: tuple[StageStep, ...] = ()
    lost: tuple[str, ...] = ()


def field(
    key: str,
    label: str,
    label_ru: str,
    type_: str,
    group: str | None,
    *,
    description: Bilingual | None = None,
    **constraints: Any,
) -> dict[str, Any]:
    """A raw field definition; ``constraints`` are the ConstraintsSchema keys (options, min, max, ...)."""
    out: dict[str, Any] = {"key": key, "label": label, "label_ru": label_ru, "type": type_, "group": group}
    if description is not None:
        out["description"] = description
    out["constraints"] = {name: (list(v) if isinstance(v, tuple) else v) for name, v in constraints.items()}
    return out


def enum(key: str, label: str, label_ru: str, group: str | None, options: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """A raw enum field definition with ``options``."""
    return field(key, label, label_ru, "enum", group, options=options, **kw)


def multi_enum(
    key: str, label: str, label_ru: str, group: str | None, options: tuple[str, ...], **kw: Any
) -> dict[str, Any]:
    """A raw multi_enum field definition with ``options``."""
    return field(key, label, label_ru, "multi_enum", group, options=options, **kw)


def text(key: str, label: str, label_ru: str, group: str | None, **kw: Any) -> dict[str, Any]:
    """A raw free-text field; by default at least 3 and at most 2000 characters."""
    kw.setdefault("min_length", 3)
    kw.setdefault("max_length", 2000)
    return field(key, label, label_ru, "text", group, **kw)


def criterion(
    field_key: str, matcher: str, kind: str = "nice", weight: float | None = None, **rest: Any
) -> dict[str, Any]:
    """A persona criterion dict; ``weight`` is left out for disqualifiers (it is ignored there)."""
    out: dict[str, Any] = {"field": field_key, "matcher": matcher, "kind": kind}
    if weight is not None and kind != "disqualifier":
        out["weight"] = weight
    for name, value in rest.items():
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
