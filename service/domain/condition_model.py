"""Condition tree types (``required_if``) and their JSON-shaped representation."""

from __future__ import annotations

from dataclasses import dataclass

OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "filled", "empty")
LIST_OPERATORS = frozenset({"in", "not_in"})
ORDER_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
PRESENCE_OPERATORS = frozenset({"filled", "empty"})


@dataclass(frozen=True)
class Comparison:
    """``field <op> value``; ``value`` is a tuple for in/not_in and None for filled/empty."""

    field: str
    op: str
    value: object = None


@dataclass(frozen=True)
class AllOf:
    """True when every item is true (an empty AllOf is True)."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """True when at least one item is true (an empty AnyOf is False)."""

    items: tuple[Condition, ...]


Condition = Comparison | AllOf | AnyOf


def condition_to_dict(c: Condition) -> dict[str, object]:
    """Render a condition as its JSON shape (inverse of ``parse_condition``); never raises."""
    if isinstance(c, AllOf):
        return {"all": [condition_to_dict(item) for item in c.items]}
    if isinstance(c, AnyOf):
        return {"any": [condition_to_dict(item) for item in c.items]}
    out: dict[str, object] = {"field": c.field, "op": c.op}
    if c.op not in PRESENCE_OPERATORS:
        out["value"] = list(c.value) if isinstance(c.value, tuple | list) else c.value
    return out


def referenced_fields(c: Condition) -> frozenset[str]:
    """Return every field key the condition reads; never raises."""
    if isinstance(c, Comparison):
        return frozenset({c.field})
    found: set[str] = set()
    for item in c.items:
        found |= referenced_fields(item)
    return frozenset(found)


def iter_comparisons(c: Condition, path: str = "required_if") -> list[tuple[str, Comparison]]:
    """List every Comparison with its path (e.g. "required_if.all[1]"), depth-first; never raises."""
    if isinstance(c, Comparison):
        return [(path, c)]
    name = "all" if isinstance(c, AllOf) else "any"
    out: list[tuple[str, Comparison]] = []
    for i, item in enumerate(c.items):
        out.extend(iter_comparisons(item, f"{path}.{name}[{i}]"))
    return out
