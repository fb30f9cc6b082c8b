"""Pipelines, stages and gates: the plain configuration the Gatekeeper compiles."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from service.domain.condition_model import Condition, condition_to_dict
from service.domain.condition_parse import parse_condition
from service.domain.errors import ConditionError, PipelineError
from service.domain.specs import is_valid_key


class GateMode(StrEnum):
    """How a gate reacts to unfilled fields: block (revert + task), warn (task only), audit (record only)."""

    ENFORCE = "enforce"
    WARN = "warn"
    AUDIT = "audit"


MODE_RANK: dict[GateMode, int] = {GateMode.AUDIT: 1, GateMode.WARN: 2, GateMode.ENFORCE: 3}


class StageKind(StrEnum):
    """Whether a stage is open, closed won or closed lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Direction(StrEnum):
    """Kind of stage move; decides which gates apply (see ``Gatekeeper.stages_to_gate``)."""

    FORWARD = "forward"
    BACKWARD = "backward"
    SAME = "same"
    ENTER = "enter"
    TO_LOST = "to_lost"


@dataclass(frozen=True)
class StageRef:
    """A stage address: pipeline id plus stage id (CRM ids as strings)."""

    pipeline_id: str
    stage_id: str


@dataclass(frozen=True)
class Stage:
    """A pipeline stage; ``order`` sorts stages (ties keep declaration order)."""

    id: str
    label: str
    order: int
    kind: StageKind = StageKind.OPEN


@dataclass(frozen=True)
class Pipeline:
    """A pipeline with its stages. Raises PipelineError on construction for duplicate stage ids."""

    id: str
    label: str
    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        duplicates: list[str] = []
        for stage in self.stages:
            if stage.id in seen:
                duplicates.append(stage.id)
            seen.add(stage.id)
        if duplicates:
            raise PipelineError(
                f"pipeline {self.id!r} has duplicate stages",
                {"stages": [f"duplicate stage id {d!r}" for d in duplicates]},
            )

    def stage(self, stage_id: str) -> Stage:
        """Return the stage with ``stage_id``; raise PipelineError when the pipeline has none."""
        for candidate in self.stages:
            if candidate.id == stage_id:
                return candidate
        message = f"unknown stage {stage_id!r} in pipeline {self.id!r}"
        raise PipelineError(message, {"stage_id": [message]})

    @property
    def ordered_stages(self) -> tuple[Stage, ...]:
        """Stages sorted by ``order``; stages with equal order keep their declaration order."""
        return tuple(sorted(self.stages, key=lambda s: s.order))


@dataclass(frozen=True)
class Requirement:
    """A field that must be filled, only when ``required_if`` holds (always when it is None)."""

    field: str
    required_if: Condition | None = None


@dataclass(frozen=True)
class Gate:
    """Requirements for entering one stage, with the mode that decides what a failure does."""

    pipeline_id: str
    stage_id: str
    mode: GateMode
    requirements: tuple[Requirement, ...]
    id: str | None = None


def parse_requirements(
    data: object, known_fields: Collection[str] | None = None, *, path: str = "requirements"
) -> tuple[Requirement, ...]:
    """Parse ``[{"field": key, "required_if": condition|null}, ...]`` into Requirements.

    Raises ConditionError keyed by paths like ``requirements[2].required_if.any[0].op``
    for a non-list, a non-object item, unknown keys, a bad, unknown (when ``known_fields``
    is given) or duplicate field, or an invalid condition (see ``parse_condition``).
    """
    if not isinstance(data, list | tuple):
        raise ConditionError("invalid requirements", {path: ["must be a list"]})
    errors: dict[str, list[str]] = {}
    out: list[Requirement] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            errors.setdefault(where, []).append("must be an object with 'field' and optional 'required_if'")
            continue
        for key in item:
            if key not in ("field", "required_if"):
                errors.setdefault(f"{where}.{key}", []).append("unknown key")
        field = item.get("field")
        if not is_valid_key(field):
            errors.setdefault(f"{where}.field", []).append("must be a field key (^[a-z][a-z0-9_]{0,63}$)")
            continue
        assert isinstance(field, str)
        if known_fields is not None and field not in known_fields:
            errors.setdefault(f"{where}.field", []).append(f"unknown field {field!r}")
        if field in seen:
            errors.setdefault(f"{where}.field", []).append(f"field {field!r} is listed twice")
        seen.add(field)
        condition: Condition | None = None
        if item.get("required_if") is not None:
            try:
                condition = parse_condition(item["required_if"], known_fields, path=f"{where}.required_if")
            except ConditionError as exc:
                for sub, messages in exc.errors.items():
                    errors.setdefault(sub, []).extend(messages)
        out.append(Requirement(field, condition))
    if errors:
        raise ConditionError("invalid requirements", errors)
    return tuple(out)


def requirements_to_list(requirements: tuple[Requirement, ...]) -> list[dict[str, object]]:
    """Render requirements in the JSON shape ``parse_requirements`` accepts; never raises."""
    return [
        {"field": r.field, "required_if": None if r.required_if is None else condition_to_dict(r.required_if)}
        for r in requirements
    ]
