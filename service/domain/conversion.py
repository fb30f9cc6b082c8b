"""Stage conversion, counted both ways reports of CRMs count it: "any" (a deal reached a stage, or a later one,
by any path) and "strict" (it passed through every stage up to it, one at a time, from the first)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Reach:
    """How far one deal went in a pipeline: the furthest position by any path, and by every stage in turn."""

    any: int
    strict: int


def placed(reached: Iterable[str], strictly: Iterable[str], positions: Mapping[str, int]) -> Reach | None:
    """The reach of a deal in one pipeline from the stages it reached by any path and strictly (as the database
    keeps them, service/models/reach_sql.py), placed by the pipeline's `positions` of its open and won stages;
    None when none of the stages is one of them (lost, archived or unknown)."""
    found = [positions[stage] for stage in reached if stage in positions]
    if not found:
        return None
    return Reach(max(found), max((positions[stage] for stage in strictly if stage in positions), default=-1))


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
