"""Parse and validate ``required_if`` conditions from their JSON shape."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from decimal import Decimal

from service.domain.checkers import checker_for
from service.domain.condition_model import (
    LIST_OPERATORS,
    OPERATORS,
    ORDER_OPERATORS,
    PRESENCE_OPERATORS,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    iter_comparisons,
)
from service.domain.errors import ConditionError
from service.domain.fieldtypes import NUMERIC_TYPES, FieldSpec, FieldType, ValueState
from service.domain.specs import is_valid_key
from service.domain.values import parse_date_str

MAX_DEPTH = 8
MAX_NODES = 50
MAX_LIST_ITEMS = 200
_GROUP_KEYS = ("all", "any")
_COMPARISON_KEYS = ("field", "op", "value")


def parse_condition(
    data: object, known_fields: Collection[str] | None = None, *, path: str = "required_if"
) -> Condition:
    """Parse ``{"all": [...]}``, ``{"any": [...]}`` or ``{"field": f, "op": op, "value": v}``.

    Raises ConditionError whose ``errors`` are keyed by paths like ``required_if.all[1].op``
    for: a non-object node, unknown or conflicting keys, nesting deeper than 8 levels, more
    than 50 nodes, an invalid or (when ``known_fields`` is given) unknown field, an unknown
    operator, in/not_in without a non-empty list of scalars, filled/empty with a value,
    gt/gte/lt/lte without a number or ISO date ("YYYY-MM-DD"), eq/ne without a scalar.
    """
    parser = _Parser(known_fields)
    result = parser.node(data, path, 1)
    if parser.nodes > MAX_NODES:
        parser.add(path, f"too many conditions ({parser.nodes}); at most {MAX_NODES}")
    if parser.errors:
        raise ConditionError("invalid condition", parser.errors)
    return result


class _Parser:
    def __init__(self, known_fields: Collection[str] | None) -> None:
        self.known = known_fields
        self.errors: dict[str, list[str]] = {}
        self.nodes = 0

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def node(self, data: object, path: str, depth: int) -> Condition:
        self.nodes += 1
        if depth > MAX_DEPTH:
            self.add(path, f"nested too deeply; at most {MAX_DEPTH} levels")
            return AllOf(())
        if self.nodes > MAX_NODES:
            return AllOf(())  # reported once by parse_condition
        if not isinstance(data, Mapping):
            self.add(path, "must be an object with 'all', 'any' or 'field'")
            return AllOf(())
        groups = [k for k in _GROUP_KEYS if k in data]
        if groups:
            return self.group(data, groups, path, depth)
        if "field" in data or "op" in data:
            return self.comparison(data, path)
        self.add(path, "must contain 'all', 'any' or 'field'")
        return AllOf(())

    def group(self, data: Mapping[object, object], groups: list[str], path: str, depth: int) -> Condition:
        for key in data:
            if key not in _GROUP_KEYS:
                self.add(f"{path}.{key}", "unknown key")
        if len(groups) > 1:
            self.add(path, "use either 'all' or 'any', not both")
        name = groups[0]
        raw = data[name]
        if not isinstance(raw, list | tuple):
            self.add(f"{path}.{name}", "must be a list of conditions")
            return AllOf(())
        items = tuple(self.node(item, f"{path}.{name}[{i}]", depth + 1) for i, item in enumerate(raw))
        return AllOf(items) if name == "all" else AnyOf(items)

    def comparison(self, data: Mapping[object, object], path: str) -> Condition:
        for key in data:
            if key not in _COMPARISON_KEYS:
                self.add(f"{path}.{key}", "unknown key")
        field, op = data.get("field"), data.get("op")
        if not is_valid_key(field):
            self.add(f"{path}.field", "must be a field key (^[a-z][a-z0-9_]{0,63}$)")
        elif self.known is not None and field not in self.known:
            self.add(f"{path}.field", f"unknown field {field!r}")
        if op not in OPERATORS:
            self.add(f"{path}.op", f"unknown operator {op!r}; expected one of {', '.join(OPERATORS)}")
            return AllOf(())
        assert isinstance(op, str)
        value = self.value(op, data, f"{path}.value")
        return Comparison(str(field), op, value)

    def value(self, op: str, data: Mapping[object, object], path: str) -> object:
        value = data.get("value")
        if op in PRESENCE_OPERATORS:
            if value is not None:
                self.add(path, f"'{op}' takes no value")
            return None
        if op in LIST_OPERATORS:
            if not isinstance(value, list | tuple) or not value:
                self.add(path, f"'{op}' needs a non-empty list")
                return ()
            if len(value) > MAX_LIST_ITEMS:
                self.add(path, f"at most {MAX_LIST_ITEMS} items")
            for i, item in enumerate(value):
                if not _is_scalar(item):
                    self.add(f"{path}[{i}]", "must be a string, number or boolean")
            return tuple(value)
        if op in ORDER_OPERATORS:
            if not (_is_number(value) or (isinstance(value, str) and parse_date_str(value) == value)):
                self.add(path, f"'{op}' needs a number or an ISO date (YYYY-MM-DD)")
            return value
        if not _is_scalar(value):
            self.add(path, f"'{op}' needs a string, number or boolean")
        return value


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, Decimal) and value.is_finite()


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def validate_condition(c: Condition, fields: Mapping[str, FieldSpec], *, path: str = "required_if") -> None:
    """Check a parsed condition against field types; raise ConditionError listing every mismatch.

    Flags: unknown fields; gt/gte/lt/lte on a field that is not number/integer/money/date or
    with an operand of the wrong kind (number vs ISO date); eq/ne/in/not_in operands that are
    not a valid value of the field (e.g. not among an enum's options), since they never match.
    """
    errors: dict[str, list[str]] = {}
    for where, comp in iter_comparisons(c, path):
        for sub, message in _comparison_problems(comp, fields.get(comp.field)):
            errors.setdefault(f"{where}{sub}", []).append(message)
    if errors:
        raise ConditionError("condition does not fit the field definitions", errors)


def _comparison_problems(comp: Comparison, spec: FieldSpec | None) -> list[tuple[str, str]]:
    if spec is None:
        return [(".field", f"unknown field {comp.field!r}")]
    kind = FieldType(spec.type)
    if comp.op in PRESENCE_OPERATORS:
        return []
    if comp.op in ORDER_OPERATORS:
        if kind in NUMERIC_TYPES:
            return [] if _is_number(comp.value) else [(".value", "must be a number for this field")]
        if kind is FieldType.DATE:
            ok = isinstance(comp.value, str) and parse_date_str(comp.value) == comp.value
            return [] if ok else [(".value", "must be an ISO date (YYYY-MM-DD) for this field")]
        return [(".op", f"'{comp.op}' applies only to number, integer, money and date fields")]
    many = comp.op in LIST_OPERATORS and isinstance(comp.value, tuple | list)
    operands = list(comp.value) if many else [comp.value]  # type: ignore[call-overload]
    check = checker_for(spec)
    problems = []
    for i, operand in enumerate(operands):
        probe = [operand] if kind is FieldType.MULTI_ENUM else operand
        if check(probe)[0] is not ValueState.FILLED:
            sub = f".value[{i}]" if many else ".value"
            problems.append((sub, f"{operand!r} is not a valid value of field {comp.field!r}"))
    return problems
