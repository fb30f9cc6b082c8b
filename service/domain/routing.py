"""Route a stage move: its direction and the stages (and compiled requirements) it must pass."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from service.domain.checkers import Checker
from service.domain.condition_compile import Predicate
from service.domain.pipeline import Direction, GateMode, Stage, StageKind, StageRef

# A compiled requirement: field key, checker (None = unknown field), condition, stage id, mode, mode rank.
CompiledRequirement = tuple[str, Checker | None, Predicate | None, str, GateMode, int]


class Route(NamedTuple):
    """A move's direction, gated stages and requirements, pre-split for fast evaluation.

    ``requirements`` holds every requirement in stage then requirement order (positions index
    it). ``plain`` lists (field, checker, position) of unconditional requirements on configured
    fields that appear once on the route and are read by no condition: they need neither a
    condition nor memoization. ``special`` lists (position, requirement) for all the others.
    """

    direction: Direction
    refs: tuple[StageRef, ...]
    target: Stage
    gated_stages: tuple[str, ...] = ()
    requirements: tuple[CompiledRequirement, ...] = ()
    plain: tuple[tuple[str, Checker, int], ...] = ()
    special: tuple[tuple[int, CompiledRequirement], ...] = ()
    plain_fields: frozenset[str] = frozenset()


def build_route(
    pipeline_id: str,
    ordered: tuple[Stage, ...],
    source_position: int | None,
    target_position: int,
    stage_requirements: Mapping[tuple[str, str], tuple[CompiledRequirement, ...]],
    condition_fields: frozenset[str] = frozenset(),
) -> Route:
    """Compute the route to ``ordered[target_position]`` from ``source_position`` (None = entering).

    SAME and BACKWARD need nothing; a LOST target needs only its own gate (TO_LOST); entering
    (no source, or a LOST source) needs every OPEN/WON stage up to the target (ENTER); FORWARD
    needs every OPEN/WON stage after the source up to the target. Positions must be valid
    indexes. ``condition_fields`` are the fields read by any condition.
    """
    target = ordered[target_position]
    if source_position == target_position:
        return Route(Direction.SAME, (), target)
    if target.kind == StageKind.LOST:
        direction, chosen = Direction.TO_LOST, [target]
    else:
        if source_position is None or ordered[source_position].kind == StageKind.LOST:
            direction, first = Direction.ENTER, 0
        elif target_position < source_position:
            return Route(Direction.BACKWARD, (), target)
        else:
            direction, first = Direction.FORWARD, source_position + 1
        chosen = [s for s in ordered[first : target_position + 1] if s.kind != StageKind.LOST]
    requirements: list[CompiledRequirement] = []
    for stage in chosen:
        requirements.extend(stage_requirements.get((pipeline_id, stage.id), ()))
    counts = Counter(r[0] for r in requirements)
    plain: list[tuple[str, Checker, int]] = []
    special: list[tuple[int, CompiledRequirement]] = []
    for position, requirement in enumerate(requirements):
        field, check, condition = requirement[:3]
        if check is not None and condition is None and counts[field] == 1 and field not in condition_fields:
            plain.append((field, check, position))
        else:
            special.append((position, requirement))
    return Route(
        direction,
        tuple(StageRef(pipeline_id, s.id) for s in chosen),
        target,
        tuple(s.id for s in chosen),
        tuple(requirements),
        tuple(plain),
        tuple(special),
        frozenset(field for field, _, _ in plain),
    )
