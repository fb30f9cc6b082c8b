"""Stage conversion, counted both ways reports of CRMs count it: "any" (a deal reached a stage, or a later one,
by any path) and "strict" (it passed through every stage up to it, one at a time, from the first)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

    Strictly, a deal must have entered at the first stage (position 0), and only its moves before the first
    one that skipped a stage (or entered further in) count; backward moves do not end it. This is the rule the
    report's SQL (service/services/reports/moves.py `reaches`) computes."""
    landed = [step for step in steps if step[0] is not None]
    if not landed:
        return None
    started = any(position == 0 and direction == "enter" for position, direction, _ in landed)
    strict = -1
    for position, direction, passed in landed:
        if (direction == "forward" and passed > 1) or (direction == "enter" and position != 0):
            break
        if started:
            strict = max(strict, position or 0)
    return Reach(max(position or 0 for position, _, _ in landed), strict)


def funnel(reaches: Iterable[tuple[Reach, int]], stages: int) -> list[tuple[int, int]]:
    """For each of `stages` positions: (deals that reached it by any path, deals that reached it strictly),
    from reaches each shared by a number of deals."""
    counts = [[0, 0] for _ in range(stages)]
    for r, deals in reaches:
        for position in range(min(r.any, stages - 1) + 1):
            counts[position][0] += deals
        for position in range(min(r.strict, stages - 1) + 1):
            counts[position][1] += deals
    return [(a, s) for a, s in counts]
