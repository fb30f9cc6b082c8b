"""Compile a FieldSpec into a fast checker closure: raw value -> (state, comparison key, constraint).

Checkers are built once per field (``Gatekeeper.__init__``) so deciding a move never re-reads
constraints or re-compiles regexes. The comparison key is what conditions compare against:
Decimal for number/integer/money, "YYYY-MM-DD" for date, bool, str, or a tuple for multi_enum.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache

from service.domain.fieldtypes import (
    DEFAULT_PLACEHOLDERS,
    NUMERIC_TYPES,
    FieldSpec,
    FieldType,
    ValueState,
    normalize_placeholders,
)
from service.domain.patterns import compile_pattern
from service.domain.values import (
    FALSE_WORDS,
    ISO_DATE_RE,
    TRUE_WORDS,
    decimal_to_str,
    is_email,
    is_phone,
    is_url,
    parse_bool,
    parse_date,
    parse_date_str,
    parse_decimal,
    parse_decimal_str,
)

# (state, comparison key when FILLED, failed constraint when INVALID). Plain tuples rather than
# ValueCheck objects: building frozen dataclasses would dominate the cost of a decision.
Checked = tuple[ValueState, object, str | None]
Checker = Callable[[object], Checked]

# Input longer than this is never handed to a user-supplied regex. Regexes run on RE2 (linear time, see
# patterns.py); the cap still bounds the cost of one match.
REGEX_INPUT_CAP = 10_000

_FILLED = ValueState.FILLED
MISSING: Checked = (ValueState.MISSING, None, None)
_INVALID: dict[str, Checked] = {
    name: (ValueState.INVALID, None, name)
    for name in ("type", "min", "max", "min_length", "max_length", "regex", "options")
}
INVALID_TYPE = _INVALID["type"]
_BOOLS: dict[bool, Checked] = {b: (_FILLED, b, None) for b in (False, True)}


def json_value(kind: FieldType, key: object) -> object:
    """The JSON-serializable normalized value for a FILLED comparison key of a ``kind`` field."""
    if isinstance(key, Decimal):
        return int(key) if kind is FieldType.INTEGER else decimal_to_str(key)
    if isinstance(key, tuple):
        return list(key)
    return key


def compile_checker(spec: FieldSpec, placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS) -> Checker:
    """Return a closure classifying raw values for ``spec`` (see ``fields.check_value`` for the rules).

    The closure returns ``(state, key, constraint)``: ``key`` is the comparison key when FILLED
    (Decimal for numeric types, "YYYY-MM-DD", bool, str, or a tuple of options for multi_enum;
    ``json_value`` turns it into the normalized value). ``placeholders`` are normalized here
    (lower-cased, stripped). Raises ``PatternError`` only for a regex that does not compile or that
    RE2 cannot take (call ``validate_spec`` first to get a FieldSpecError); the closure never raises.
    """
    kind = FieldType(spec.type)
    placeholders = normalize_placeholders(placeholders)
    if kind in NUMERIC_TYPES:
        return _numeric_checker(spec, kind, placeholders)
    if kind is FieldType.BOOLEAN:
        return _boolean_checker(placeholders)
    if kind is FieldType.DATE:
        return _date_checker(placeholders)
    if kind is FieldType.ENUM:
        return _enum_checker(spec, placeholders)
    if kind is FieldType.MULTI_ENUM:
        return _multi_enum_checker(spec, placeholders)
    shape = {FieldType.EMAIL: is_email, FieldType.PHONE: is_phone, FieldType.URL: is_url}.get(kind)
    return _text_checker(spec, kind, shape, placeholders)


def _longest(placeholders: frozenset[str]) -> int:
    """Length of the longest placeholder: longer text cannot be one, so lower() can be skipped."""
    return max((len(p) for p in placeholders), default=0)


def _scalar_text(raw: object, allow_numbers: bool) -> str | None:
    """Stripped text of a str (or of an int/float when allowed); None for any other type."""
    if isinstance(raw, str):
        return raw.strip()
    if allow_numbers and isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return None


def _text_checker(
    spec: FieldSpec, kind: FieldType, shape: Callable[[str], bool] | None, placeholders: frozenset[str]
) -> Checker:
    c = spec.constraints
    min_length, max_length = c.min_length, c.max_length
    pattern = compile_pattern(c.regex) if c.regex is not None else None
    allow_numbers = kind is FieldType.TEXT
    longest = _longest(placeholders)
    plain = shape is None and pattern is None and min_length is None and max_length is None

    def check(raw: object) -> Checked:
        # Branch order follows frequency: CRMs send strings; None means absent.
        if type(raw) is str:
            text = raw.strip()
        elif raw is None:
            return MISSING
        else:
            found = _scalar_text(raw, allow_numbers)
            if found is None:
                return INVALID_TYPE
            text = found
        if not text or (len(text) <= longest and text.lower() in placeholders):
            return MISSING
        if plain:
            return _FILLED, text, None
        if shape is not None and not shape(text):
            return INVALID_TYPE
        size = len(text)
        if min_length is not None and size < min_length:
            return _INVALID["min_length"]
        if max_length is not None and size > max_length:
            return _INVALID["max_length"]
        if pattern is not None:
            if size > REGEX_INPUT_CAP:
                return _INVALID["max_length"]
            if pattern.fullmatch(text) is None:
                return _INVALID["regex"]
        return _FILLED, text, None

    return check


def _numeric_checker(spec: FieldSpec, kind: FieldType, placeholders: frozenset[str]) -> Checker:
    low, high = spec.constraints.min, spec.constraints.max
    integer = kind is FieldType.INTEGER
    longest = _longest(placeholders)

    def check(raw: object) -> Checked:
        if type(raw) is str:
            text = raw.strip()
            if not text or (len(text) <= longest and text.lower() in placeholders):
                return MISSING
            number = parse_decimal_str(text)
        elif raw is None or (
            isinstance(raw, int | float) and not isinstance(raw, bool) and str(raw) in placeholders
        ):
            return MISSING
        else:
            number = parse_decimal(raw)
        if number is None:
            return INVALID_TYPE
        if integer and number != number.to_integral_value():
            return INVALID_TYPE
        if low is not None and number < low:
            return _INVALID["min"]
        if high is not None and number > high:
            return _INVALID["max"]
        return _FILLED, number, None

    return check


def _boolean_checker(placeholders: frozenset[str]) -> Checker:
    # One dict lookup per string value; placeholders override words (a placeholder always wins).
    words: dict[str, Checked] = {w: _BOOLS[True] for w in TRUE_WORDS}
    words.update({w: _BOOLS[False] for w in FALSE_WORDS})
    words.update({w: MISSING for w in placeholders})
    words[""] = MISSING

    def check(raw: object) -> Checked:
        if type(raw) is str:
            return words.get(raw.strip().lower(), INVALID_TYPE)
        if raw is None:
            return MISSING
        flag = parse_bool(raw)
        return INVALID_TYPE if flag is None else _BOOLS[flag]

    return check


def _date_checker(placeholders: frozenset[str]) -> Checker:
    longest = _longest(placeholders)
    iso_date = ISO_DATE_RE.fullmatch

    def check(raw: object) -> Checked:
        if type(raw) is str:
            text = raw.strip()
            if not text or (len(text) <= longest and text.lower() in placeholders):
                return MISSING
            if iso_date(text) is not None:  # the common "YYYY-MM-DD": validate, keep as is
                try:
                    date.fromisoformat(text)
                except ValueError:
                    return INVALID_TYPE
                return _FILLED, text, None
            iso = parse_date_str(text)
        elif raw is None:
            return MISSING
        else:
            iso = parse_date(raw)
        return INVALID_TYPE if iso is None else (_FILLED, iso, None)

    return check


def _enum_checker(spec: FieldSpec, placeholders: frozenset[str]) -> Checker:
    options = frozenset(spec.constraints.options)
    longest = _longest(placeholders)

    def check(raw: object) -> Checked:
        if type(raw) is str:
            text = raw.strip()
        elif raw is None:
            return MISSING
        else:
            found = _scalar_text(raw, allow_numbers=True)
            if found is None:
                return INVALID_TYPE
            text = found
        if not text or (len(text) <= longest and text.lower() in placeholders):
            return MISSING
        if text not in options:
            return _INVALID["options"]
        return _FILLED, text, None

    return check


def _multi_enum_checker(spec: FieldSpec, placeholders: frozenset[str]) -> Checker:
    options = frozenset(spec.constraints.options)

    def check(raw: object) -> Checked:
        if raw is None:
            return MISSING
        if isinstance(raw, str):
            # HubSpot multi-select values arrive as "a;b;c"
            # (https://developers.hubspot.com/docs/faq/how-do-i-set-multiple-values-for-checkbox-properties).
            items: list[object] = list(raw.split(";"))
        elif isinstance(raw, list | tuple):
            items = list(raw)
        else:
            return INVALID_TYPE
        chosen: dict[str, None] = {}
        for item in items:
            text = _scalar_text(item, allow_numbers=True)
            if text is None:
                return INVALID_TYPE
            if text and text.lower() not in placeholders:
                chosen[text] = None
        if not chosen:
            return MISSING
        if not options.issuperset(chosen):
            return _INVALID["options"]
        return _FILLED, tuple(chosen), None

    return check


@lru_cache(maxsize=1024)
def checker_for(spec: FieldSpec, placeholders: frozenset[str] = DEFAULT_PLACEHOLDERS) -> Checker:
    """Memoized ``compile_checker`` (specs are frozen and hashable); same errors."""
    return compile_checker(spec, placeholders)
