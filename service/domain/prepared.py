"""Record values converted once per lead for every persona's scoring: numbers as floats, dates as ages,
multi-selects as sets, text casefolded. Nothing here raises on bad input: invalid values become unknown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NamedTuple

from service.domain.fieldtypes import FieldSpec, FieldType
from service.domain.values import parse_bool, parse_date, parse_decimal


class PreparedValues(NamedTuple):
    """A record converted once for every persona: ``values`` by field key (numbers as float; dates as
    (days, completed months, completed years) of age; multi_enum as frozenset; text casefolded, the
    original under ``key#``; no blank or invalid value) and ``raw``, the values as given."""

    values: dict[str, Any]
    raw: Mapping[str, object]


_N, _T, _E, _M, _B, _D = range(6)
_CONVERT = {FieldType.NUMBER: _N, FieldType.INTEGER: _N, FieldType.MONEY: _N, FieldType.TEXT: _T,
            FieldType.EMAIL: _T, FieldType.PHONE: _T, FieldType.URL: _T, FieldType.ENUM: _E,
            FieldType.MULTI_ENUM: _M, FieldType.BOOLEAN: _B, FieldType.DATE: _D}
_AGES: dict[int, dict[object, tuple[int, int, int] | None]] = {}  # memo: scoring day -> raw date -> age


def _number(raw: object) -> float | None:
    """``parse_decimal`` as a float, with fast paths for ints and ASCII strings float() reads the same way."""
    if type(raw) is str and len(raw) <= 100 and raw.isascii() and "_" not in raw:
        try:
            x = float(raw)
        except ValueError:
            return None  # parse_decimal rejects whatever float() rejects
        if x == 0 or 1e-99 < abs(x) < 1e99:  # well inside parse_decimal's magnitude limits
            return x
    elif type(raw) is int and -1e99 < raw < 1e99:
        return float(raw)
    number = parse_decimal(raw)
    return None if number is None else float(number)


def _age(raw: object, today: date, memo: dict[object, tuple[int, int, int] | None]) -> tuple[int, int, int] | None:
    day = None if (iso := parse_date(raw)) is None else date.fromisoformat(iso)
    months = 0 if day is None else (today.year - day.year) * 12 + today.month - day.month - (today.day < day.day)
    age = None if day is None else ((today - day).days, months, months // 12)
    if isinstance(raw, str):
        if len(memo) >= 100_000:
            memo.clear()
        memo[raw] = age
    return age


def _options(raw: object) -> frozenset[str] | None:
    if type(raw) is list:
        try:
            chosen = frozenset(map(str.strip, raw))
        except TypeError:
            chosen = frozenset({""})
        if "" not in chosen:
            return chosen or None
    items = raw.split(";") if isinstance(raw, str) else raw if isinstance(raw, list | tuple) else ()
    return frozenset(s for item in items if isinstance(item, str) and (s := item.strip())) or None


class Preparer:
    """Converts records for scoring against a fixed set of field definitions: built once per set of
    fields (or per persona set), then called once per record with the scoring day (see PreparedValues)."""

    __slots__ = ("_plan",)

    def __init__(self, fields: Mapping[str, FieldSpec]) -> None:
        self._plan = tuple((key, code, key + "#") for key, spec in fields.items()
                           if (code := _CONVERT.get(FieldType(spec.type))) is not None)

    def __call__(self, values: Mapping[str, object], today: date) -> PreparedValues:
        """``values`` converted for every persona; never raises."""
        out: dict[str, Any] = {}
        if (ages := _AGES.get(today.toordinal())) is None:
            _AGES.clear()  # one scoring day at a time (a thread still holding an older day keeps its own dict)
            ages = _AGES[today.toordinal()] = {}
        get: Callable[[str], Any] = values.get
        for key, code, original in self._plan:
            if (raw := get(key)) is None:
                continue
            kind = type(raw)
            if code == _N:
                value: Any = float(raw) if kind is int and -1e99 < raw < 1e99 else _number(raw)
            elif code == _E:
                value = (raw.strip() or None) if kind is str else None
            elif code == _T:
                value = (raw.strip() or None) if kind is str else None
                if value:
                    out[original], value = value, value.casefold()
            elif code == _D:
                if kind is not str or (value := ages.get(raw, ages)) is ages:
                    value = _age(raw, today, ages)
            elif code == _B:
                value = raw if kind is bool else parse_bool(raw)
            else:
                value = _options(raw)
            if value is not None:
                out[key] = value
        return PreparedValues(out, values)


def prepare(values: Mapping[str, object], fields: Mapping[str, FieldSpec], today: date) -> PreparedValues:
    """Convert one record's values for every persona (see PreparedValues); never raises. To convert many
    records against the same fields, build a ``Preparer`` once instead."""
    return Preparer(fields)(values, today)
