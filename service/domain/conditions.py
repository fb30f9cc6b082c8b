"""Conditions for conditional requirements (``required_if``): parse, render, inspect, evaluate.

JSON shape: ``{"all": [...]}``, ``{"any": [...]}`` or ``{"field": "industry", "op": "eq",
"value": "retail"}`` with operators eq, ne, in, not_in, gt, gte, lt, lte, filled, empty.
See ``condition_compile`` for the evaluation semantics; in short, any operator other than
``filled``/``empty`` is False on a field that is not FILLED (unknown is never a match).
"""

from __future__ import annotations

from collections.abc import Mapping

from service.domain.checkers import Checked, checker_for
from service.domain.condition_compile import Lookup, Predicate, compile_condition
from service.domain.condition_model import (
    OPERATORS,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    condition_to_dict,
    iter_comparisons,
    referenced_fields,
)
from service.domain.condition_parse import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_NODES,
    parse_condition,
    validate_condition,
)
from service.domain.fieldtypes import DEFAULT_PLACEHOLDERS, FieldSpec

__all__ = [
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_NODES",
    "OPERATORS",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Condition",
    "Lookup",
    "Predicate",
    "compile_condition",
    "condition_to_dict",
    "evaluate",
    "iter_comparisons",
    "parse_condition",
    "referenced_fields",
    "validate_condition",
]


def evaluate(
    c: Condition,
    values: Mapping[str, object],
    fields: Mapping[str, FieldSpec],
    placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS,
) -> bool:
    """Evaluate ``c`` on raw ``values`` (field key -> raw value) using the field types in ``fields``.

    Empty ``all`` is True, empty ``any`` is False; see the module docstring for operator
    semantics. Never raises for a parsed condition and valid specs.
    """
    needed = referenced_fields(c)
    checkers = {key: checker_for(spec, placeholders) for key, spec in fields.items() if key in needed}
    cache: dict[str, Checked] = {}

    def look(key: str) -> Checked:
        found = cache.get(key)
        if found is None:
            found = cache[key] = checkers[key](values.get(key))
        return found

    return compile_condition(c, fields, checkers)(look)
