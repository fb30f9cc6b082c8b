"""Stage conversion, counted both ways reports of CRMs count it: "any" (a deal reached a stage, or a later one,
by any path) and "strict" (it passed through every stage up to it, one at a time, from the first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# A move that happened: (the position of its target among the pipeline's open and won stages, or None for a
# lost or unknown stage; its direction; how many open stages it passed, target included).
Step = tuple[int | None, str, int]


@dataclass(frozen=True)
class Reach:
    """How far one deal went in a pipeline: the furthest position by any path, and by every stage in turn."""

    any: int
    strict: int


def reach(steps: Sequence[Step]) -> Reach | None:
    """The reach of a deal's moves in one pipeline, oldest first; None when none landed on an open or won stage.

    Strict reach starts with a deal entering at the first stage (position 0) and grows with each move to the
    next stage; a skip or an entry further in ends it (backward moves and re-entries do not extend it)."""
    furthest, strict, chain = -1, -1, True
    for position, direction, passed in steps:
        if position is None:
            continue
        furthest = max(furthest, position)
        if not chain:
            continue
        if direction == "enter":
            chain = position == 0
        elif direction == "forward":
            chain = passed == 1 and position == strict + 1
        if chain and position > strict:
            strict = position
    if furthest < 0:
        return None
    return Reach(furthest, strict)


def funnel(reaches: Iterable[Reach], stages: int) -> list[tuple[int, int]]:
    """For each of `stages` positions: (deals that reached it by any path, deals that reached it strictly)."""
    counts = [[0, 0] for _ in range(stages)]
    for r in reaches:
        for position in range(min(r.any, stages - 1) + 1):
            counts[position][0] += 1
        for position in range(min(r.strict, stages - 1) + 1):
            counts[position][1] += 1
    return [(a, s) for a, s in counts]


def pipeline_funnel(paths: Mapping[int, Sequence[Step]], stages: int) -> tuple[int, list[tuple[int, int]]]:
    """(deals that moved in the pipeline, the funnel of their reaches)."""
    reaches = [r for r in (reach(steps) for steps in paths.values()) if r is not None]
    return len(reaches), funnel(reaches, stages)
