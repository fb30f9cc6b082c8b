"""Portrait fields: types, constraints, placeholders and the "is this value filled?" check.

A value is FILLED when present and valid. ``None``, empty or whitespace-only text, an empty
multi_enum and placeholder text ("n/a", "tbd", "-", ... compared case-insensitively after
stripping) are MISSING. A present value that fails type parsing or a constraint is INVALID,
with the name of the failed check. Raw values may be CRM strings (HubSpot sends every
property as a string: "12.5", "true", "a;b;c", "2024-05-01", "1714521600000") or JSON values
from our API (int, float, bool, list of str, str); both are accepted.

Normalized (JSON-serializable) values: text/email/phone/url/enum -> stripped str;
number/money -> plain decimal str ("12.5", "1000"); integer -> int; boolean -> bool;
date -> "YYYY-MM-DD"; multi_enum -> list[str] without duplicates, order kept.
"""

from __future__ import annotations

from service.domain.checkers import (
    REGEX_INPUT_CAP,
    Checked,
    Checker,
    checker_for,
    compile_checker,
    json_value,
)
from service.domain.fieldtypes import (
    DEFAULT_PLACEHOLDERS,
    NUMERIC_TYPES,
    OPTION_TYPES,
    TEXT_LIKE_TYPES,
    Constraints,
    FieldSpec,
    FieldType,
    ValueCheck,
    ValueState,
    language_code,
    normalize_placeholders,
)
from service.domain.specs import constraints_from_dict, constraints_to_dict, is_valid_key, validate_spec

__all__ = [
    "DEFAULT_PLACEHOLDERS",
    "NUMERIC_TYPES",
    "OPTION_TYPES",
    "REGEX_INPUT_CAP",
    "TEXT_LIKE_TYPES",
    "Checked",
    "Checker",
    "Constraints",
    "FieldSpec",
    "FieldType",
    "ValueCheck",
    "ValueState",
    "check_value",
    "checker_for",
    "compile_checker",
    "constraints_from_dict",
    "constraints_to_dict",
    "is_valid_key",
    "json_value",
    "language_code",
    "normalize_for_storage",
    "normalize_placeholders",
    "validate_spec",
]

_MISSING = ValueCheck(ValueState.MISSING)


def check_value(
    spec: FieldSpec, raw: object, placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS
) -> ValueCheck:
    """Classify ``raw`` for ``spec`` as FILLED (with the normalized value), MISSING or INVALID.

    INVALID carries ``constraint``: "type" (unparseable or wrong JSON type), "min", "max",
    "min_length", "max_length" (also for text over 10,000 chars when a regex is set),
    "regex" or "options". Placeholders are matched case-insensitively after stripping, against
    text (and the text form of JSON numbers); a placeholder wins over an identical enum option.
    Booleans accept bool, 0/1 and true/false/yes/no/1/0; ``False`` is FILLED. Numbers reject
    bool, NaN and infinities; integer rejects fractions. Dates accept "YYYY-MM-DD", ISO
    datetimes (date as written) and epoch milliseconds. Never raises for any raw value;
    raises ``PatternError`` only for a spec whose regex does not compile or RE2 cannot take (run
    ``validate_spec`` first to get a FieldSpecError instead).
    """
    try:
        checker = checker_for(spec, placeholders)
    except TypeError:  # an unhashable spec or placeholder set (e.g. options given as a list)
        checker = compile_checker(spec, frozenset(placeholders))
    state, key, constraint = checker(raw)
    if state is ValueState.FILLED:
        return ValueCheck(state, json_value(FieldType(spec.type), key))
    return _MISSING if state is ValueState.MISSING else ValueCheck(state, None, constraint)


def normalize_for_storage(
    spec: FieldSpec, raw: object, placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS
) -> object:
    """Value to store for ``raw``: the normalized value when FILLED, None when MISSING, else raw as given.

    INVALID strings are stored stripped so the record shows what the CRM holds; other invalid
    values (wrong JSON types) are returned unchanged. Never raises (see ``check_value``).
    """
    check = check_value(spec, raw, placeholders)
    if check.state is ValueState.FILLED:
        return check.value
    if check.state is ValueState.MISSING:
        return None
    return raw.strip() if isinstance(raw, str) else raw
