"""Validation of field definitions and conversion of constraints to/from JSON-shaped dicts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from service.domain.errors import FieldSpecError
from service.domain.fieldtypes import (
    NUMERIC_TYPES,
    OPTION_TYPES,
    TEXT_LIKE_TYPES,
    Constraints,
    FieldSpec,
    FieldType,
)
from service.domain.patterns import PatternError, compile_pattern
from service.domain.values import parse_decimal

KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CONSTRAINT_KEYS = ("min", "max", "min_length", "max_length", "regex", "options")
_MAX_OPTIONS = 1000

_Adder = Callable[[str, str], None]


def is_valid_key(key: object) -> bool:
    """True when ``key`` is a field key: a lowercase letter then up to 63 of [a-z0-9_]."""
    return isinstance(key, str) and KEY_RE.fullmatch(key) is not None


def validate_spec(spec: FieldSpec) -> None:
    """Check a field definition; raise FieldSpecError listing every problem by path.

    Rules: key matches ``^[a-z][a-z0-9_]{0,63}$``; label non-empty; known type; min/max only
    for number/integer/money and min <= max; min_length/max_length non-negative and only for
    text-like types (text, email, phone, url) with min_length <= max_length; regex only for
    text-like types and must compile; options required (non-empty, unique, trimmed, non-empty
    strings, no ";" for multi_enum) for enum/multi_enum and forbidden for other types.
    """
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not is_valid_key(spec.key):
        add("key", "must match ^[a-z][a-z0-9_]{0,63}$")
    if not isinstance(spec.label, str) or not spec.label.strip():
        add("label", "must be a non-empty string")
    if spec.label_ru is not None and (not isinstance(spec.label_ru, str) or not spec.label_ru.strip()):
        add("label_ru", "must be a non-empty string when given")
    try:
        kind: FieldType | None = FieldType(spec.type)
    except ValueError:
        kind = None
        add("type", f"unknown type; expected one of {', '.join(t.value for t in FieldType)}")
    if kind is not None:
        _check_constraints(kind, spec.constraints, add)
    if errors:
        raise FieldSpecError(f"invalid field definition {spec.key!r}", errors)


def _check_constraints(kind: FieldType, c: Constraints, add: _Adder) -> None:
    numeric, text_like = kind in NUMERIC_TYPES, kind in TEXT_LIKE_TYPES
    for name, bound in (("min", c.min), ("max", c.max)):
        if bound is None:
            continue
        if not numeric:
            add(f"constraints.{name}", "allowed only for number, integer and money fields")
        elif not isinstance(bound, Decimal) or parse_decimal(bound) is None:
            add(f"constraints.{name}", "must be a finite number")
    if numeric and isinstance(c.min, Decimal) and isinstance(c.max, Decimal) and c.min > c.max:
        add("constraints.min", "must not be greater than max")
    for name, size in (("min_length", c.min_length), ("max_length", c.max_length)):
        if size is None:
            continue
        if not text_like:
            add(f"constraints.{name}", "allowed only for text, email, phone and url fields")
        elif isinstance(size, bool) or not isinstance(size, int) or size < 0:
            add(f"constraints.{name}", "must be a non-negative integer")
    low, high = c.min_length, c.max_length
    if text_like and isinstance(low, int) and isinstance(high, int) and low > high:
        add("constraints.min_length", "must not be greater than max_length")
    if c.regex is not None:
        if not text_like:
            add("constraints.regex", "allowed only for text, email, phone and url fields")
        elif not isinstance(c.regex, str):
            add("constraints.regex", "must be a string")
        else:
            try:
                compile_pattern(c.regex)
            except PatternError as exc:
                add("constraints.regex", exc.message)
    if kind in OPTION_TYPES:
        _check_options(kind, c.options, add)
    elif c.options:
        add("constraints.options", "allowed only for enum and multi_enum fields")


def _check_options(kind: FieldType, options: tuple[str, ...], add: _Adder) -> None:
    if not options:
        add("constraints.options", "required and must not be empty for enum and multi_enum fields")
        return
    if len(options) > _MAX_OPTIONS:
        add("constraints.options", f"at most {_MAX_OPTIONS} options")
    seen: set[str] = set()
    for i, option in enumerate(options):
        path = f"constraints.options[{i}]"
        if not isinstance(option, str) or not option.strip():
            add(path, "must be a non-empty string")
            continue
        if option != option.strip():
            add(path, "must not start or end with whitespace")
        if kind is FieldType.MULTI_ENUM and ";" in option:
            add(path, "must not contain ';' (it separates multi_enum values)")
        if option in seen:
            add(path, f"duplicate option {option!r}")
        seen.add(option)


def constraints_from_dict(data: Mapping[str, object] | None) -> Constraints:
    """Build Constraints from a JSON-shaped dict (as stored/exported); raise FieldSpecError on bad input.

    Unknown keys, non-numeric min/max, non-integer lengths, a non-string regex and non-list
    options are rejected, each reported under ``constraints.<name>``. Type compatibility is
    checked by ``validate_spec``.
    """
    if data is None:
        return Constraints()
    errors: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        raise FieldSpecError("invalid constraints", {"constraints": ["must be an object"]})
    for key in data:
        if key not in _CONSTRAINT_KEYS:
            errors.setdefault(f"constraints.{key}", []).append("unknown constraint")
    bounds: dict[str, Decimal | None] = {}
    for name in ("min", "max"):
        raw = data.get(name)
        bounds[name] = None if raw is None else parse_decimal(raw)
        if raw is not None and bounds[name] is None:
            errors.setdefault(f"constraints.{name}", []).append("must be a finite number")
    lengths: dict[str, int | None] = {}
    for name in ("min_length", "max_length"):
        raw = data.get(name)
        ok = raw is None or (isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0)
        lengths[name] = raw if ok and isinstance(raw, int) else None
        if not ok:
            errors.setdefault(f"constraints.{name}", []).append("must be a non-negative integer")
    regex = data.get("regex")
    if regex is not None and not isinstance(regex, str):
        errors.setdefault("constraints.regex", []).append("must be a string")
    options = data.get("options", ())
    if not isinstance(options, list | tuple) or not all(isinstance(o, str) for o in options):
        errors.setdefault("constraints.options", []).append("must be a list of strings")
        options = ()
    if errors:
        raise FieldSpecError("invalid constraints", errors)
    return Constraints(
        min=bounds["min"],
        max=bounds["max"],
        min_length=lengths["min_length"],
        max_length=lengths["max_length"],
        regex=regex if isinstance(regex, str) else None,
        options=tuple(str(o) for o in options),
    )


def constraints_to_dict(c: Constraints) -> dict[str, object]:
    """Render Constraints as a JSON-shaped dict with only the set keys (numbers as int or float)."""
    out: dict[str, object] = {}
    for name, bound in (("min", c.min), ("max", c.max)):
        if bound is not None:
            out[name] = int(bound) if bound == bound.to_integral_value() else float(bound)
    if c.min_length is not None:
        out["min_length"] = c.min_length
    if c.max_length is not None:
        out["max_length"] = c.max_length
    if c.regex is not None:
        out["regex"] = c.regex
    if c.options:
        out["options"] = list(c.options)
    return out
