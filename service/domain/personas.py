"""Personas (customer portraits) as weighted criteria, parsed and validated from JSON-shaped dicts.

Matchers per field type: enum -> equals, in; text/email/phone/url -> equals, in, regex; number/
integer/money -> range, equals; date -> range (over the date's age in ``unit`` days|months|years,
default years); multi_enum -> contains_any, contains_all; boolean -> boolean (``value`` true/false).

Choices where the spec leaves room (what a sales manager would expect): keys a matcher does not
use (``values`` on a range, ``unit`` on a number range) are errors like unknown keys, so a typo
never silently changes a rule; ``weight`` is checked (0 < weight <= 100) for every kind, though
disqualifiers ignore it; ``""`` as an equals/in value needs ``blank_is_value`` (else it could never
match); numbers may be JSON numbers or numeric strings, kept as floats and written back as ints
when whole; thresholds may be partial (a missing grade keeps its default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.domain.errors import DomainError
from service.domain.fieldtypes import NUMERIC_TYPES, OPTION_TYPES, FieldSpec, FieldType
from service.domain.patterns import PatternError, compile_pattern
from service.domain.values import parse_decimal

MAX_CRITERIA = 100
MAX_PATTERN_CHARS = 500
DATE_UNITS = ("days", "months", "years")


class Ring(StrEnum):
    """How central a persona is to the business: core, target or near-target audience."""
    CORE = "core"
    TARGET = "target"
    NEAR_TARGET = "near-target"


class CriterionKind(StrEnum):
    """A criterion's role: must-have (caps the grade when missed), nice-to-have, or disqualifier."""
    MUST = "must"
    NICE = "nice"
    DISQUALIFIER = "disqualifier"


class Matcher(StrEnum):
    """How a criterion compares the lead's value with the persona's expectation."""
    EQUALS = "equals"
    IN = "in"
    RANGE = "range"
    CONTAINS_ANY = "contains_any"
    CONTAINS_ALL = "contains_all"
    REGEX = "regex"
    BOOLEAN = "boolean"


class Grade(StrEnum):
    """Letter grade of a lead's fit to a persona, A (best) to D."""
    A = "A"
    B = "B"
    C = "C"
    D = "D"


_TEXT, _NUMBER = frozenset({Matcher.EQUALS, Matcher.IN, Matcher.REGEX}), frozenset({Matcher.RANGE, Matcher.EQUALS})
ALLOWED_MATCHERS: dict[FieldType, frozenset[Matcher]] = {
    FieldType.ENUM: frozenset({Matcher.EQUALS, Matcher.IN}), FieldType.DATE: frozenset({Matcher.RANGE}),
    FieldType.TEXT: _TEXT, FieldType.EMAIL: _TEXT, FieldType.PHONE: _TEXT, FieldType.URL: _TEXT,
    FieldType.NUMBER: _NUMBER, FieldType.INTEGER: _NUMBER, FieldType.MONEY: _NUMBER,
    FieldType.MULTI_ENUM: frozenset({Matcher.CONTAINS_ANY, Matcher.CONTAINS_ALL}),
    FieldType.BOOLEAN: frozenset({Matcher.BOOLEAN}),
}
# The optional keys each matcher reads; any other of them on a criterion is an error.
_USES: dict[Matcher, tuple[str, ...]] = {
    Matcher.EQUALS: ("value",), Matcher.BOOLEAN: ("value",), Matcher.IN: ("values",), Matcher.REGEX: ("pattern",),
    Matcher.CONTAINS_ANY: ("values",), Matcher.CONTAINS_ALL: ("values",),
    Matcher.RANGE: ("min", "max", "soft_margin", "unit"),
}
_OPTIONAL = ("value", "values", "min", "max", "soft_margin", "unit", "pattern")
_KEYS = frozenset({"field", "matcher", "kind", "weight", "blank_is_value", *_OPTIONAL})


@dataclass(frozen=True)
class Criterion:
    """One persona attribute: which field, how it is matched, its role and weight (see module doc)."""
    field: str
    matcher: Matcher
    kind: CriterionKind = CriterionKind.NICE
    weight: float = 1.0
    value: object = None
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    soft_margin: float | None = None
    unit: str | None = None
    pattern: str | None = None
    blank_is_value: bool = False


@dataclass(frozen=True)
class GradeThresholds:
    """Lowest score of grades A, B and C (100 >= a > b > c >= 1); lower scores are D."""
    a: int = 80
    b: int = 60
    c: int = 40

    def grade_for(self, score: int) -> Grade:
        """The grade of ``score``: A when score >= a, B when >= b, C when >= c, else D."""
        return Grade.A if score >= self.a else Grade.B if score >= self.b else Grade.C if score >= self.c else Grade.D

    def cap_score(self, cap: Grade) -> int:
        """Highest score under grade ``cap``: one below the threshold of the grade above it (100 for A)."""
        return {Grade.A: 100, Grade.B: self.a - 1, Grade.C: self.b - 1, Grade.D: self.c - 1}[Grade(cap)]


@dataclass(frozen=True)
class PersonaSpec:
    """A persona version: its criteria, grade thresholds and the grade cap for a missed must-have."""
    id: int
    version: int
    name: str
    ring: Ring
    criteria: tuple[Criterion, ...]
    thresholds: GradeThresholds = GradeThresholds()
    must_cap: Grade = Grade.C


class PersonaSpecError(DomainError):
    """A persona definition is invalid; ``errors`` maps paths like ``criteria.2.values`` to messages."""


class _Errors(dict[str, list[str]]):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def _number(raw: object) -> float | None:
    return None if (number := parse_decimal(raw)) is None else float(number)


def _choice(enum: type[StrEnum], raw: object, path: str, errors: _Errors) -> str | None:
    if not (ok := isinstance(raw, str) and raw in enum._value2member_map_):
        errors.add(path, f"must be one of {', '.join(e.value for e in enum)}")
    return str(raw) if ok else None


def parse_criteria(items: object, fields: Mapping[str, FieldSpec], *, path: str = "criteria") -> tuple[Criterion, ...]:
    """Parse criterion dicts checked against ``fields``; raise PersonaSpecError listing every problem by path
    (``criteria.2.values``). The same field may appear in several criteria; at most 100 criteria."""
    errors = _Errors()
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise PersonaSpecError("invalid criteria", {path: ["must be a list of criteria"]})
    if len(items) > MAX_CRITERIA:
        errors.add(path, f"at most {MAX_CRITERIA} criteria")
    out = [_parse_one(f"{path}.{i}", item, fields, errors) for i, item in enumerate(items)]
    if errors:
        raise PersonaSpecError("invalid persona criteria", errors)
    return tuple(c for c in out if c is not None)


def _parse_one(where: str, item: object, fields: Mapping[str, FieldSpec], errors: _Errors) -> Criterion | None:
    if not isinstance(item, Mapping):
        errors.add(where, "must be an object")
        return None
    for key in item:
        if key not in _KEYS:
            errors.add(f"{where}.{key}", "unknown key")
    name = item.get("field")
    spec = fields.get(name) if isinstance(name, str) else None
    if spec is None:
        errors.add(f"{where}.field", f"unknown field {name!r}" if isinstance(name, str) else "required: a field key")
    matcher = _choice(Matcher, item.get("matcher"), f"{where}.matcher", errors)
    kind = _choice(CriterionKind, item.get("kind", "nice"), f"{where}.kind", errors)
    weight = _number(item.get("weight", 1.0))
    if weight is None or not 0 < weight <= 100:
        errors.add(f"{where}.weight", "must be a number greater than 0 and at most 100")
    blank = item.get("blank_is_value", False)
    if not isinstance(blank, bool):
        errors.add(f"{where}.blank_is_value", "must be true or false")
    if matcher is None:
        return None
    m = Matcher(matcher)
    for key in _OPTIONAL:
        if item.get(key) is not None and key not in _USES[m]:
            errors.add(f"{where}.{key}", f"not used by matcher {m.value}")
    if spec is not None and m not in ALLOWED_MATCHERS[FieldType(spec.type)]:
        allowed = ", ".join(sorted(ALLOWED_MATCHERS[FieldType(spec.type)]))
        errors.add(f"{where}.matcher", f"{m.value} is not allowed for {spec.type} fields (use {allowed})")
        spec = None
    rule = _parse_rule(where, m, item, spec, blank is True, errors)
    if spec is None or kind is None or weight is None or errors:
        return None  # the caller raises: this criterion is not used
    return Criterion(spec.key, m, CriterionKind(kind), weight, blank_is_value=blank is True, **rule)


def _parse_rule(
    where: str, m: Matcher, item: Mapping[str, object], spec: FieldSpec | None, blank: bool, errors: _Errors
) -> dict[str, Any]:
    """Check the matcher-specific keys (type checks against the field only when ``spec`` is given)."""
    if m is Matcher.RANGE:
        return _parse_range(where, item, spec, errors)
    key = _USES[m][0]
    raw, path = item.get(key), f"{where}.{key}"
    kind = FieldType(spec.type) if spec is not None else None
    if m is Matcher.BOOLEAN or (m is Matcher.EQUALS and kind in NUMERIC_TYPES):
        value = (raw if isinstance(raw, bool) else None) if m is Matcher.BOOLEAN else _number(raw)
        if value is None:
            errors.add(path, "must be true or false" if m is Matcher.BOOLEAN else "must be a number")
        return {key: value}
    if m is Matcher.REGEX:
        if not isinstance(raw, str) or not 0 < len(raw) <= MAX_PATTERN_CHARS:
            errors.add(path, f"must be a non-empty string of at most {MAX_PATTERN_CHARS} characters")
            return {}
        try:
            compile_pattern(raw, ignore_case=True)
        except PatternError as exc:
            errors.add(path, exc.message)
        return {key: raw}
    texts = [raw] if m is Matcher.EQUALS else raw
    if not isinstance(texts, list | tuple) or not texts or not all(isinstance(v, str) for v in texts):
        errors.add(path, "must be a string" if m is Matcher.EQUALS else "must be a non-empty list of strings")
        return {}
    options = spec.constraints.options if spec is not None else ()
    for text in texts:
        if text == "" and not (blank and m in (Matcher.EQUALS, Matcher.IN)):
            errors.add(path, "an empty value is allowed only for equals/in with blank_is_value")
        elif text and kind in OPTION_TYPES and text not in options:
            errors.add(path, f"unknown option {text!r}")
    return {key: raw if m is Matcher.EQUALS else tuple(texts)}


def _parse_range(where: str, item: Mapping[str, object], spec: FieldSpec | None, errors: _Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("min", "max", "soft_margin"):
        raw = item.get(key)
        out[key] = None if raw is None else _number(raw)
        if raw is not None and out[key] is None:
            errors.add(f"{where}.{key}", "must be a finite number")
    low, high, margin, unit = out["min"], out["max"], out["soft_margin"], item.get("unit")
    if item.get("min") is None and item.get("max") is None:
        errors.add(f"{where}.min", "a range needs min, max or both")
    if low is not None and high is not None and low > high:
        errors.add(f"{where}.min", "must not be greater than max")
    if margin is not None and margin <= 0:
        errors.add(f"{where}.soft_margin", "must be greater than 0")
    if unit is not None and spec is not None and spec.type != FieldType.DATE:
        errors.add(f"{where}.unit", "allowed only for date fields")
    elif unit is not None and unit not in DATE_UNITS:
        errors.add(f"{where}.unit", f"must be one of {', '.join(DATE_UNITS)}")
    return {**out, "unit": unit if isinstance(unit, str) else None}


def criterion_to_dict(c: Criterion) -> dict[str, object]:
    """Render a criterion as the JSON dict ``parse_criteria`` accepts, omitting None and default values."""
    out: dict[str, object] = {"field": c.field, "matcher": Matcher(c.matcher).value}
    if c.kind != CriterionKind.NICE:
        out["kind"] = CriterionKind(c.kind).value
    for key in ("weight", *_OPTIONAL):
        value = getattr(c, key)
        if key == "weight" and value == 1.0:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = int(value) if float(value).is_integer() else float(value)
        elif value is not None and value != ():
            out[key] = list(value) if isinstance(value, tuple) else value
    if c.blank_is_value:
        out["blank_is_value"] = True
    return out


def parse_thresholds(data: Mapping[str, object] | None, *, path: str = "thresholds") -> GradeThresholds:
    """Parse ``{"A": 80, "B": 60, "C": 40}`` (a missing grade keeps its default); raise PersonaSpecError
    unless the values are integers with 100 >= A > B > C >= 1."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise PersonaSpecError("invalid thresholds", {path: ["must be an object like {'A': 80, 'B': 60, 'C': 40}"]})
    errors, found = _Errors({f"{path}.{k}": ["unknown grade; expected A, B or C"] for k in data if k not in "ABC"}), {}
    for grade in ("A", "B", "C"):
        raw = data.get(grade, getattr(GradeThresholds(), grade.lower()))
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 100:
            errors.add(f"{path}.{grade}", "must be an integer from 1 to 100")
        else:
            found[grade] = raw
    if len(found) == 3 and not found["A"] > found["B"] > found["C"]:
        errors.add(path, "must satisfy 100 >= A > B > C >= 1")
    if errors:
        raise PersonaSpecError("invalid thresholds", errors)
    return GradeThresholds(found["A"], found["B"], found["C"])


def thresholds_to_dict(t: GradeThresholds) -> dict[str, int]:
    """Render thresholds as ``{"A": a, "B": b, "C": c}`` (the shape ``parse_thresholds`` accepts)."""
    return {"A": t.a, "B": t.b, "C": t.c}

