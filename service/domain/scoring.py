"""Deterministic lead-to-persona scoring: a 0..100 score, an A-D grade and a plain-language explanation.

Each criterion is MATCH (credit 1, or in (0, 1) inside a soft margin), MISMATCH (-1) or UNKNOWN
(0: a blank or invalid value, unless ``blank_is_value``). With W the weight of all must+nice
criteria, score = round-half-up(50 + 50 * fsum(w_i * s_i) / W) (50 when W == 0). A mismatched
``must`` caps the score one point below the grade above ``must_cap``; a matched disqualifier gives
0/D. ``prepare`` converts a record once; ``CompiledPersona.quick`` is the hot path and
``explain`` adds the top contributions and the unknown fields worth asking about.

Choices where the spec leaves room (what a sales manager would expect; explanation order and
unknown-field semantics are in ``score_messages``):
- Date ages count completed calendar units (born 40 years and 6 months ago -> 40 years).
- Text-like equals/in ignore case and surrounding spaces; regex searches the original text. An
  enum value that is not (or no longer) an option is a known value, so it mismatches.
- ``capped``: the must-cap lowered the score (never when disqualified); ``best_fit`` never picks a
  disqualified PersonaScore; half-up rounding tolerates 1e-9 of float noise.
- ``CompiledPersona`` re-validates criteria against the current fields (PersonaSpecError).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from math import fsum, inf
from typing import Any, NamedTuple

from service.domain import personas as _personas
from service.domain import score_messages as msg
from service.domain.checkers import REGEX_INPUT_CAP
from service.domain.fieldtypes import NUMERIC_TYPES, TEXT_LIKE_TYPES, FieldSpec, FieldType, language_code
from service.domain.personas import Criterion, CriterionKind, Grade, Matcher, PersonaSpec, Ring
from service.domain.score_messages import Contribution, CriterionState, PersonaScore, Trend, UnknownField  # noqa: F401
from service.domain.values import parse_bool, parse_date, parse_decimal

_EPS = 1e-9  # float noise tolerated by half-up rounding
_TINY = 5e-324  # quick: a known, non-matching disqualifier (0.0 means unknown there; it never moves a score)
_AGE_PART = {"days": 0, "months": 1, "years": 2}
_VARIED = NUMERIC_TYPES | {FieldType.DATE}
Rule = tuple[str, Callable[[Any], float | None], dict[Any, float | None]]


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


def prepare(values: Mapping[str, object], fields: Mapping[str, FieldSpec], today: date) -> PreparedValues:
    """Convert a record's values once per lead for every persona (see PreparedValues); never raises."""
    out: dict[str, Any] = {}
    if (ages := _AGES.get(today.toordinal())) is None:
        _AGES.clear()  # one scoring day at a time (a thread still holding an older day keeps its own dict)
        ages = _AGES[today.toordinal()] = {}
    for key, raw in values.items():
        spec = fields.get(key)
        if spec is None or raw is None:
            continue
        code = _CONVERT.get(spec.type)
        if code == _N:
            value: Any = _number(raw)
        elif code == _T or code == _E:  # noqa: SIM109 (faster than a tuple test)
            value = (raw.strip() or None) if type(raw) is str else None
            if value and code == _T:
                out[key + "#"], value = value, value.casefold()
        elif code == _D:
            value = ages[raw] if type(raw) is str and raw in ages else _age(raw, today, ages)
        elif code == _B:
            value = raw if type(raw) is bool else parse_bool(raw)
        else:
            value = _options(raw) if code == _M else None
        if value is not None:
            out[key] = value
    return PreparedValues(out, values)


def compile_rule(c: Criterion, kind: FieldType, hit: float, miss: float, unknown: float | None = None) -> Rule:
    """(key into ``PreparedValues.values``, function of that value (None = blank), known results by value).

    The function gives ``hit`` for a match (``hit * credit`` in a soft margin), ``miss`` for a mismatch
    and ``unknown`` for an unknown blank. Expects a criterion validated against the field's type.
    """
    key, m = c.field, c.matcher
    listed = c.values if m is Matcher.IN else (c.value,) if m in (Matcher.EQUALS, Matcher.BOOLEAN) else ()
    blank = (hit if "" in listed else miss) if c.blank_is_value else unknown
    if m is Matcher.RANGE:
        low, high, margin = -inf if c.min is None else c.min, inf if c.max is None else c.max, c.soft_margin or 0.0
        part = _AGE_PART[c.unit or "years"] if kind is FieldType.DATE else -1

        def in_range(v: Any) -> float | None:
            if v is None:
                return blank
            if part >= 0:
                v = v[part]
            if low <= v <= high:
                return hit
            d = low - v if v < low else v - high
            return hit * cr if d < margin and (cr := 1.0 - d / margin) > 0 else miss

        return key, in_range, {None: blank}
    if m is Matcher.REGEX:
        search = re.compile(c.pattern or "", re.IGNORECASE).search
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


class CompiledPersona:
    """A persona version compiled once to score many leads; PersonaSpecError when a criterion no longer fits
    ``fields``. ``quick`` looks most criteria up in memos of results by prepared value in one C-level ``map``,
    then calls the closures of musts and of number/date criteria (values too varied to memoize); a matched
    disqualifier weighs +inf, so one ``fsum`` also tells disqualification; 0.0 stands for unknown."""

    def __init__(self, persona: PersonaSpec, fields: Mapping[str, FieldSpec]) -> None:
        # Re-validate against the current fields: PersonaSpecError when a field is gone or changed type.
        _personas.parse_criteria([_personas.criterion_to_dict(c) for c in persona.criteria], fields)
        self.persona, self._fields = persona, dict(fields)
        crit, t = persona.criteria, persona.thresholds
        kinds = [FieldType(fields[c.field].type) for c in crit]
        self._credits = [compile_rule(c, k, 1.0, -1.0) for c, k in zip(crit, kinds, strict=True)]
        order = sorted(range(len(crit)), key=lambda i: crit[i].kind != CriterionKind.MUST)  # musts first
        rules = [(crit[i].kind == CriterionKind.MUST or kinds[i] in _VARIED, compile_rule(
            crit[i], kinds[i], *_hit_miss(crit[i]), 0.0)) for i in order]
        memo = [r for direct, r in rules if not direct]
        self._keys, self._memos = tuple(r[0] for r in memo), tuple(_Memo(r[1], r[2]) for r in memo)
        self._direct = tuple(r[:2] for direct, r in rules if direct)
        self._musts = slice(len(memo), len(memo) + sum(c.kind == CriterionKind.MUST for c in crit))
        self._weight = fsum(float(c.weight) for c in crit if c.kind != CriterionKind.DISQUALIFIER)
        self._grades = tuple(t.grade_for(s) for s in range(101))
        self._cap = t.cap_score(persona.must_cap)
        n = len(crit)
        self._completeness = tuple((200 * (n - u) + n) // (2 * n) if n else 100 for u in range(n + 1))

    def _final(self, terms: Sequence[float], must_missed: bool) -> tuple[int, bool]:
        """(score after the must-cap, whether the cap lowered it) for known weighted terms."""
        w = self._weight
        score = int(50.0 + 50.0 * fsum(terms) / w + 0.5 + _EPS) if w else 50
        return (self._cap, True) if must_missed and score > self._cap else (score, False)

    def quick(self, prepared: PreparedValues) -> tuple[int, Grade, int, bool]:
        """(score, grade, completeness, disqualified) without an explanation: the hot path."""
        get = prepared.values.get
        terms = list(map(_getitem, self._memos, map(get, self._keys)))
        terms += [rule(get(key)) for key, rule in self._direct]
        total, unknown = fsum(terms), terms.count(0.0)  # type: ignore[arg-type]  # 0.0: unknown (never a known term)
        if total == inf:
            return 0, Grade.D, self._completeness[unknown], True
        w = self._weight
        score = int(50.0 + 50.0 * total / w + 0.5 + _EPS) if w else 50
        if score > self._cap and min(filter(None, terms[self._musts]), default=0.0) < 0:
            score = self._cap  # a must mismatched
        return score, self._grades[score], self._completeness[unknown], False

    def explain(self, prepared: PreparedValues, language: str = "en") -> PersonaScore:
        """The score with its explanation (top contributions, unknown fields) in ``language`` ("en"/"ru")."""
        lang, get, p = language_code(language), prepared.values.get, self.persona
        credits = [rule(get(key)) for key, rule, _ in self._credits]
        pairs = list(zip(p.criteria, credits, strict=True))
        terms = [float(c.weight) * s for c, s in pairs if s is not None and c.kind != CriterionKind.DISQUALIFIER]
        missed = any(s is not None and s < 0 and c.kind == CriterionKind.MUST for c, s in pairs)
        disqualified = any(s is not None and s > 0 and c.kind == CriterionKind.DISQUALIFIER for c, s in pairs)
        score, capped = self._final(terms, missed)
        final = 0 if disqualified else score
        items: list[tuple[float, int, bool, Contribution]] = []
        unknown: list[tuple[int, UnknownField]] = []
        for i, (c, s) in enumerate(pairs):
            spec = self._fields[c.field]
            label, kind, raw = spec.label_for(lang), FieldType(spec.type), prepared.raw.get(c.field)
            if s is None:
                unknown.append((i, self._unknown(c, label, terms, missed, final, disqualified, lang)))
            elif c.kind != CriterionKind.DISQUALIFIER or s > 0:
                unit = (c.unit or "years") if kind is FieldType.DATE else None
                age = ages[_AGE_PART[unit]] if unit and (ages := get(c.field)) is not None else None
                dq = c.kind == CriterionKind.DISQUALIFIER
                effect = -float(score) if dq else 50.0 * float(c.weight) * s / self._weight
                contribution = msg.contribution(c, label, raw, kind, unit, age, s, effect, lang)
                items.append((effect, i, dq or (s < 0 and c.kind == CriterionKind.MUST), contribution))
        positive, negative = msg.top_contributions(items)
        grade = self._grades[final]
        return PersonaScore(p.id, p.version, final, grade, self._completeness[credits.count(None)], disqualified,
                            capped and not disqualified, positive, negative, msg.rank_unknown(grade, unknown), p.ring)

    def _unknown(self, c: Criterion, label: str, terms: list[float], missed: bool, score: int, disqualified: bool,
                 lang: str) -> UnknownField:
        if c.kind == CriterionKind.DISQUALIFIER:
            good, bad = score, 0
        elif disqualified:
            good = bad = 0
        else:
            good = self._final([*terms, float(c.weight)], missed)[0]
            bad = self._final([*terms, -float(c.weight)], missed or c.kind == CriterionKind.MUST)[0]
        now, if_good, if_bad = self._grades[score], self._grades[good], self._grades[bad]
        text = msg.unknown_text(label, now, if_good, if_bad, good - score, bad - score, c.kind == "disqualifier", lang)
        return UnknownField(c.field, label, c.kind, good - score, bad - score, if_good, if_bad, text)


_getitem = dict.__getitem__


def best_fit(scores: Sequence[PersonaScore] | Sequence[tuple[int, int, Ring | str]], floor: int) -> int | None:
    """The persona id with the highest score (ties: ring core > target > near-target, then lowest id);
    None when every score is below ``floor``. Disqualified PersonaScores never win."""
    rows = [(s.persona_id, s.score, s.ring) if isinstance(s, PersonaScore) else s for s in scores
            if not (isinstance(s, PersonaScore) and s.disqualified)]
    found = [(-score, list(Ring).index(Ring(ring)), pid) for pid, score, ring in rows if score >= floor]
    return min(found)[2] if found else None


def trend(previous: int | None, current: int, threshold: int = 5) -> Trend:
    """improving/declining when the score moved by ``threshold`` or more, else steady; no previous: not_enough_info."""
    if previous is None:
        return Trend.NOT_ENOUGH_INFO
    delta = current - previous
    return Trend.STEADY if abs(delta) < threshold else Trend.IMPROVING if delta > 0 else Trend.DECLINING
