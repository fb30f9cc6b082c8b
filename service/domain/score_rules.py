"""Criterion rules compiled for scoring: ``compile_rule`` gives one criterion's result as a function of its
prepared value (explanations call it), ``generate_quick`` a persona's whole quick score as one generated
straight-line function, the way ``dataclasses`` generates ``__init__``. Generated source holds only names
(``_source`` refuses anything else); every key, bound, weight and pattern comes from the namespace."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from math import fsum, inf
from typing import Any

from service.domain.checkers import REGEX_INPUT_CAP
from service.domain.fieldtypes import NUMERIC_TYPES, TEXT_LIKE_TYPES, FieldType
from service.domain.patterns import compile_pattern
from service.domain.personas import Criterion, CriterionKind, Grade, Matcher, PersonaSpec
from service.domain.prepared import PreparedValues

EPS = 1e-9  # float noise tolerated by half-up rounding
AGE_PART = {"days": 0, "months": 1, "years": 2}
_TINY = 5e-324  # quick: a known, non-matching disqualifier (0.0 means unknown there; it never moves a score)
Rule = tuple[str, Callable[[Any], float | None], dict[Any, float | None]]
_SAFE_LINE = re.compile(r"[A-Za-z0-9_ .,:()\[\]=<>+\-*/#]*")
Quick = Callable[[PreparedValues], tuple[int, Grade, int, bool]]


def compile_rule(c: Criterion, kind: FieldType, hit: float, miss: float, unknown: float | None = None) -> Rule:
    """(key into ``PreparedValues.values``, function of that value (None = blank), known results by value).

    The function gives ``hit`` for a match (``hit * credit`` in a soft margin), ``miss`` for a mismatch
    and ``unknown`` for an unknown blank. Expects a criterion validated against the field's type.
    """
    key, m = c.field, c.matcher
    listed = c.values if m is Matcher.IN else (c.value,) if m in (Matcher.EQUALS, Matcher.BOOLEAN) else ()
    blank = (hit if "" in listed else miss) if c.blank_is_value else unknown
    if m is Matcher.RANGE:
        part = AGE_PART[c.unit or "years"] if kind is FieldType.DATE else -1
        names = _range_names(0, c, hit, miss, blank)
        exec(_source("rule", "v", _range_lines(0, part, names["M0"]), "return r0"), names)
        return key, names["rule"], {None: blank}
    if m is Matcher.REGEX:
        search = compile_pattern(c.pattern or "", ignore_case=True).search
        return key + "#", lambda v: blank if v is None else hit if search(v, 0, REGEX_INPUT_CAP) else miss, {
            None: blank}
    if m in (Matcher.CONTAINS_ANY, Matcher.CONTAINS_ALL):
        wanted, every = frozenset(c.values), m is Matcher.CONTAINS_ALL

        def contains(v: Any) -> float | None:
            if v is None:
                return blank
            return (hit if wanted <= v else miss) if every else (miss if wanted.isdisjoint(v) else hit)

        return key, contains, {None: blank}
    if kind in TEXT_LIKE_TYPES:
        listed = tuple(str(v).strip().casefold() for v in listed)
    known: dict[Any, float | None] = dict.fromkeys((float(v) for v in listed) if kind in NUMERIC_TYPES else listed,  # type: ignore[arg-type]
                                                   hit)
    known.pop("", None)
    known[None] = blank
    return key, lambda v: known.get(v, miss), known


def _hit_miss(c: Criterion) -> tuple[float, float]:
    """quick's terms: +-weight, or +inf / _TINY for a disqualifier (so one fsum tells disqualification)."""
    w = float(c.weight)
    return (inf, _TINY) if c.kind == CriterionKind.DISQUALIFIER else (w, -w)


def _range_names(i: int, c: Criterion, hit: float, miss: float, blank: float | None) -> dict[str, Any]:
    """The constants ``_range_lines(i, ...)`` reads: bounds, soft margin and the hit/miss/blank results."""
    low, high = -inf if c.min is None else c.min, inf if c.max is None else c.max
    return {f"L{i}": low, f"H{i}": high, f"M{i}": c.soft_margin or 0.0, f"P{i}": hit, f"N{i}": miss, f"B{i}": blank}


def _range_lines(i: int, part: int, margin: float) -> list[str]:
    """Source setting ``r{i}`` from the prepared value ``v`` for a range criterion (``part``: which age of a
    date, -1 for numbers): the one definition of range matching, inlined by quick and wrapped by compile_rule."""
    lines = ["if v is None:", f"    r{i} = B{i}", "else:"] + ([f"    v = v[{part}]"] if part >= 0 else [])
    lines += [f"    if L{i} <= v <= H{i}:", f"        r{i} = P{i}", "    else:"]
    if not margin:
        return [*lines, f"        r{i} = N{i}"]
    return [*lines, f"        d = L{i} - v if v < L{i} else v - H{i}",
            f"        r{i} = P{i} * cr if d < M{i} and (cr := 1.0 - d / M{i}) > 0 else N{i}"]


def _source(name: str, argument: str, body: Sequence[str], *tail: str) -> str:
    """A one-argument function's source from body lines; ValueError for a line holding anything but names,
    numbers, operators and comments (no string literal, escape or line break can reach generated code)."""
    lines = [f"def {name}({argument}):", *(f"    {line}" for line in [*body, *tail])]
    if unsafe := [line for line in lines if not _SAFE_LINE.fullmatch(line)]:
        raise ValueError(f"refusing to generate code from {unsafe[0]!r}")
    return "\n".join(lines)


class _Memo(dict[Any, float | None]):
    """One criterion's results by prepared value, filled on first use (at most 2,048 values)."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable[[Any], float | None], known: dict[Any, float | None]) -> None:
        super().__init__(known)
        self.rule = rule

    def __missing__(self, value: Any) -> float | None:
        result = self.rule(value)
        if len(self) < 2048:
            self[value] = result
        return result


def generate_quick(persona: PersonaSpec, kinds: Sequence[FieldType], weight: float, cap: int,
                   grades: Sequence[Grade], completeness: Sequence[int]) -> Quick:
    """CompiledPersona.quick for ``persona`` (``kinds``: its criteria's field types; ``weight``: W; ``cap``: the
    score a missed must caps at; ``grades``/``completeness``: by score / by number of unknown criteria)."""
    names: dict[str, Any] = {"fsum": fsum, "inf": inf, "EPS": EPS, "D": Grade.D, "W": weight,
                             "CAP": cap, "GRADES": grades, "COMPLETE": completeness}
    body = ["get = prepared.values.get"]
    for i, (c, kind) in enumerate(zip(persona.criteria, kinds, strict=True)):
        hit, miss = _hit_miss(c)
        key, rule, known = compile_rule(c, kind, hit, miss, 0.0)
        names[f"K{i}"] = key
        if c.matcher is Matcher.RANGE:
            names.update(_range_names(i, c, hit, miss, known[None]))
            part = AGE_PART[c.unit or "years"] if kind is FieldType.DATE else -1
            body += [f"v = get(K{i})", *_range_lines(i, part, names[f"M{i}"])]
        elif c.matcher in (Matcher.EQUALS, Matcher.IN, Matcher.BOOLEAN):  # everything not listed is a miss
            names[f"G{i}"], names[f"N{i}"] = known.get, miss
            body.append(f"r{i} = G{i}(get(K{i}), N{i})")
        else:
            names[f"X{i}"] = _Memo(rule, known)
            body.append(f"r{i} = X{i}[get(K{i})]")
    terms = "".join(f"r{i}, " for i in range(len(kinds)))
    musts = " or ".join(f"r{i} < 0" for i, c in enumerate(persona.criteria) if c.kind == CriterionKind.MUST)
    body += [f"terms = ({terms})", "total = fsum(terms)",
             "if total == inf:", "    return 0, D, COMPLETE[terms.count(0.0)], True",
             "score = int(50.0 + 50.0 * total / W + 0.5 + EPS)" if weight else "score = 50"]
    if musts:
        body += [f"if score > CAP and ({musts}):", "    score = CAP  # a must mismatched"]
    exec(_source("quick", "prepared", body, "return score, GRADES[score], COMPLETE[terms.count(0.0)], False"),
         names)
    return names["quick"]  # type: ignore[no-any-return]
