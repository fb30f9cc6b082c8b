"""Evaluate a route's requirements against raw values: which fields fail, where, and how strictly."""

from __future__ import annotations

from collections.abc import Mapping

from service.domain.checkers import Checked, Checker
from service.domain.fieldtypes import ValueState
from service.domain.pipeline import GateMode
from service.domain.routing import Route

# field, id of the first gated stage needing it, strictest mode, its rank, check result (None = unknown field)
Failure = tuple[str, str, GateMode, int, Checked | None]

_FILLED = ValueState.FILLED
_UNKNOWN: Checked = (ValueState.MISSING, None, None)


def _position(failure: tuple[int, str, Checked | None]) -> int:
    return failure[0]


def evaluate_route(
    route: Route,
    values: Mapping[str, object],
    checkers: Mapping[str, Checker],
    cache: dict[str, Checked],
    required: set[str] | None = None,
) -> list[Failure]:
    """Return one Failure per failing field, ordered by its first position on the route.

    A requirement whose condition is False is skipped; a field with no checker fails as
    unknown (result None). ``cache`` memoizes checks of fields read by conditions or required
    more than once (it may be shared across routes for the same values); when ``required`` is
    given, every field actually required is added to it. Never raises.
    """
    get = values.get
    failures: list[tuple[int, str, Checked | None]] = []
    for field, check, position in route.plain:
        checked = check(get(field))
        if checked[0] is not _FILLED:
            failures.append((position, field, checked))
    if required is not None:
        required.update(route.plain_fields)
    if route.special:

        def look(key: str) -> Checked:
            found = cache.get(key)
            if found is None:
                check = checkers.get(key)
                found = cache[key] = _UNKNOWN if check is None else check(get(key))
            return found

        for position, (field, known, condition, _, _, _) in route.special:
            if condition is not None and not condition(look):
                continue
            if required is not None:
                required.add(field)
            if known is None:
                failures.append((position, field, None))
                continue
            found = cache.get(field)
            if found is None:
                found = cache[field] = known(get(field))
            if found[0] is not _FILLED:
                failures.append((position, field, found))
        failures.sort(key=_position)
    merged: dict[str, Failure] = {}
    for position, field, result in failures:
        _, _, _, stage_id, mode, rank = route.requirements[position]
        previous = merged.get(field)
        if previous is None:
            merged[field] = (field, stage_id, mode, rank, result)
        elif rank > previous[3]:
            merged[field] = (field, previous[1], mode, rank, previous[4])
    return list(merged.values())
