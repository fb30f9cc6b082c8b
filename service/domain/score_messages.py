"""Explaining a persona score: the explanation items, their order, and sentences in "en" and "ru".

Other languages fall back to English. Callers pass labels already picked for the language
(``FieldSpec.label_for``) and the record's JSON value. Effects print with one decimal and a real
minus sign: en "+12.5", "−8.3"; ru "+12,5". Order (a choice where the spec leaves room): ties
are broken by field key, then the item's kind/state/text, then criterion index, so permuting
criteria never changes an explanation; matched disqualifiers and must-mismatches always come
first in the negatives, even beyond three.
"""

# Russian text, en dashes and minus signs are intentional here.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from math import copysign, floor

from service.domain.fieldtypes import NUMERIC_TYPES, FieldType, language_code
from service.domain.messages import plural_ru
from service.domain.personas import Criterion, CriterionKind, Grade, Matcher, Ring

_MINUS = "\u2212"
_UNITS_EN = {"days": ("day", "days"), "months": ("month", "months"), "years": ("year", "years")}
# (nominative one, few, many) for an age; (genitive one, many) after "от"/"до" in a range.
_UNITS_RU = {
    "days": (("день", "дня", "дней"), ("дня", "дней")),
    "months": (("месяц", "месяца", "месяцев"), ("месяца", "месяцев")),
    "years": (("год", "года", "лет"), ("года", "лет")),
}
_RANGE_RU = {"in": "{s} — в диапазоне {d}", "near": "{s} — близко к диапазону {d}: частичное совпадение",
             "out": "{s} — вне диапазона {d}"}
_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "is": "{label} is {value}", "blank": "{label} is not filled", "match": "{s}: matches the persona",
        "expects": "{s}: the persona expects {e}", "must": "Must-have: ", "both": "{lo}–{hi}{u}",
        "min": "at least {lo}{u}", "max": "at most {hi}{u}", "dq": "Disqualifier: {s} — lead disqualified",
        "in both": "{s} is within {d}", "in min": "{s} is at least {lo}{u}", "in max": "{s} is at most {hi}{u}",
        "near both": "{s} is close to {d}: partial match", "near min": "{s} is just below {lo}{u}: partial match",
        "near max": "{s} is just above {hi}{u}: partial match", "out both": "{s} is outside {d}",
        "out min": "{s} is below {lo}{u}", "out max": "{s} is above {hi}{u}",
        "in": "one of {}", "contains_any": "any of {}", "contains_all": "all of {}",
        "regex": "a value matching its pattern", "yes": "yes", "no": "no", "ask": "Ask about {label}: {what}",
        "up": "could raise the grade to {g}", "down": "could lower the grade to {h}",
        "updown": "could raise the grade to {g} or lower it to {h}", "disqualify": "could disqualify the lead",
        "gainloss": "could raise the score by {gain} or lower it by {loss}", "gain": "could raise the score by {gain}",
        "loss": "could lower the score by {loss}", "none": "would not change the score",
    },
    "ru": {
        "is": "{label} — {value}", "blank": "Поле «{label}» не заполнено", "match": "{s}: совпадает с портретом",
        "expects": "{s}: ожидается {e}", "must": "Обязательное условие: ", "both": "от {lo} до {hi}{u}",
        "min": "от {lo}{u}", "max": "до {hi}{u}", "dq": "Стоп-фактор: {s} — лид дисквалифицирован",
        **{f"{state} {shape}": text for state, text in _RANGE_RU.items() for shape in ("both", "min", "max")},
        "in": "одно из: {}", "contains_any": "хотя бы одно из: {}", "contains_all": "все из: {}",
        "regex": "значение по шаблону", "yes": "да", "no": "нет", "ask": "Уточните «{label}»: {what}",
        "up": "может повысить грейд до {g}", "down": "может понизить грейд до {h}",
        "updown": "может повысить грейд до {g} или понизить до {h}", "disqualify": "может дисквалифицировать лид",
        "gainloss": "может повысить балл на {gain} или снизить на {loss}", "gain": "может повысить балл на {gain}",
        "loss": "может снизить балл на {loss}", "none": "не изменит балл",
    },
}

TOP = 3
GRADE_RANK = {Grade.D: 0, Grade.C: 1, Grade.B: 2, Grade.A: 3}


class CriterionState(StrEnum):
    """A criterion's outcome for one lead."""
    MATCH = "match"
    MISMATCH = "mismatch"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Contribution:
    """One known criterion's effect on the score (points, one decimal) with a sentence for people."""
    field: str
    label: str
    value: object
    state: CriterionState
    kind: CriterionKind
    effect: float
    text: str


@dataclass(frozen=True)
class UnknownField:
    """An unknown criterion's field: signed score change (gain >= 0, loss <= 0) and grade if it matched
    or mismatched, with a sentence. For a disqualifier "match" means the lead passes it (no change)."""
    field: str
    label: str
    kind: CriterionKind
    gain: int
    loss: int
    grade_if_match: Grade
    grade_if_mismatch: Grade
    text: str


class Trend(StrEnum):
    """Direction of a lead's score since the previous computation."""
    IMPROVING = "improving"
    STEADY = "steady"
    DECLINING = "declining"
    NOT_ENOUGH_INFO = "not_enough_info"


@dataclass(frozen=True)
class PersonaScore:
    """A lead's fit to one persona version with its explanation (see the module docstring)."""
    persona_id: int
    persona_version: int
    score: int
    grade: Grade
    completeness: int
    disqualified: bool
    capped: bool
    top_positive: tuple[Contribution, ...]
    top_negative: tuple[Contribution, ...]
    unknown: tuple[UnknownField, ...]
    ring: Ring = Ring.TARGET

    @property
    def reason(self) -> Contribution | None:
        """The disqualifier that zeroed the score, when disqualified."""
        return self.top_negative[0] if self.disqualified and self.top_negative else None


def top_contributions(
    items: Sequence[tuple[float, int, bool, Contribution]],
) -> tuple[tuple[Contribution, ...], tuple[Contribution, ...]]:
    """(top_positive, top_negative) from (exact effect, criterion index, forced, contribution) items.

    Positives: up to 3 with effect > 0, largest first. Negatives: every forced item (matched
    disqualifiers first, then must-mismatches), then the most negative others up to 3 in all.
    """
    def key(item: tuple[float, int, bool, Contribution]) -> tuple[object, ...]:
        effect, index, _, c = item
        return -abs(effect), c.field, c.kind != CriterionKind.DISQUALIFIER, c.kind, c.state, c.text, index

    positive = sorted((i for i in items if i[0] > 0 and not i[2]), key=key)
    forced = sorted((i for i in items if i[2]), key=lambda i: (i[3].kind != CriterionKind.DISQUALIFIER, key(i)))
    others = sorted((i for i in items if i[0] < 0 and not i[2]), key=key)
    negative = forced + others[: max(0, TOP - len(forced))]
    return tuple(i[3] for i in positive[:TOP]), tuple(i[3] for i in negative)


def rank_unknown(grade: Grade, items: Sequence[tuple[int, UnknownField]]) -> tuple[UnknownField, ...]:
    """Order (criterion index, unknown field) items: most grade steps either outcome could move from
    ``grade``, then largest |gain| + |loss|, then field key, kind, text and index."""
    now = GRADE_RANK[grade]

    def key(item: tuple[int, UnknownField]) -> tuple[object, ...]:
        index, u = item
        steps = max(abs(GRADE_RANK[u.grade_if_match] - now), abs(GRADE_RANK[u.grade_if_mismatch] - now))
        return -steps, -(abs(u.gain) + abs(u.loss)), u.field, u.kind, u.text, index

    return tuple(u for _, u in sorted(items, key=key))


def _lang(language: str) -> str:
    return language if language in _PHRASES else language_code(language)


def number_text(x: float, language: str) -> str:
    """A number without a needless ".0" ("25", "12.5"); Russian uses a decimal comma ("12,5")."""
    text = str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))
    return text.replace(".", ",") if _lang(language) == "ru" else text


def effect_text(effect: float, language: str) -> str:
    """A signed effect with one decimal: "+12.5", "−8.3" (ru "+12,5", "−8,3")."""
    text = f"{'+' if effect >= 0 else _MINUS}{abs(effect):.1f}"
    return text.replace(".", ",") if _lang(language) == "ru" else text


def value_text(value: object, kind: FieldType, language: str) -> str:
    """The record's JSON value as shown to a person: yes/no (да/нет), lists comma-separated, "" when blank."""
    lang = _lang(language)
    if isinstance(value, bool):
        return _PHRASES[lang]["yes" if value else "no"]
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    text = "" if value is None else str(value).strip()
    return text.replace(".", ",") if lang == "ru" and kind in NUMERIC_TYPES else text


def _unit(n: float, unit: str | None, lang: str, genitive: bool = False) -> str:
    if unit is None:
        return ""
    if lang != "ru":
        return " " + _UNITS_EN[unit][0 if n == 1 else 1]
    nominative, gen = _UNITS_RU[unit]
    if not float(n).is_integer():
        return " " + gen[0]
    return " " + (plural_ru(int(abs(n)), gen[0], gen[1], gen[1]) if genitive else plural_ru(int(abs(n)), *nominative))


def age_text(age: int, unit: str, language: str) -> str:
    """An age with its unit: "7 years", "1 month" (ru "7 лет", "1 месяц")."""
    return f"{age}{_unit(age, unit, _lang(language))}"


def _bounds(c: Criterion, unit: str | None, lang: str) -> dict[str, str]:
    last = c.max if c.max is not None else c.min if c.min is not None else 0.0
    shape = "both" if c.min is not None and c.max is not None else "min" if c.min is not None else "max"
    return {"lo": "" if c.min is None else number_text(c.min, lang), "shape": shape,
            "hi": "" if c.max is None else number_text(c.max, lang), "u": _unit(last, unit, lang, lang == "ru")}


def range_text(c: Criterion, unit: str | None, language: str) -> str:
    """A range as the persona states it (``unit`` for date ages): en "25–40", "at least 2 years"; ru "от 2 лет"."""
    lang = _lang(language)
    b = _bounds(c, unit, lang)
    return _PHRASES[lang][b["shape"]].format(**b)


def expectation(c: Criterion, unit: str | None, language: str) -> str:
    """What the persona expects, e.g. "one of retail, b2b", "yes", "25–40" (ru "одно из: retail, b2b")."""
    lang, m = _lang(language), c.matcher
    if m is Matcher.RANGE:
        return range_text(c, unit, lang)
    if m is Matcher.BOOLEAN:
        return _PHRASES[lang]["yes" if c.value else "no"]
    if m is Matcher.EQUALS:
        return number_text(c.value, lang) if isinstance(c.value, int | float) else str(c.value)
    return _PHRASES[lang][m.value].format(", ".join(c.values))


def contribution_text(
    c: Criterion, unit: str | None, label: str, shown: str, age: str, credit: float, effect: float, language: str
) -> str:
    """One criterion's contribution as a sentence.

    ``shown`` is ``value_text`` of the record's value ("" when blank); for date ranges ``age`` is the
    date's age ("7 years") and ``unit`` its unit (else "" and None). ``credit`` is 1 for a match, in
    (0, 1) for a soft-margin match, -1 for a mismatch. en "Industry is retail: matches the persona
    (+12.5)", "Age 52 is outside 25–40 (−8.3)"; ru "Отрасль — retail: совпадает с портретом (+12,5)".
    """
    lang = _lang(language)
    words = _PHRASES[lang]
    prefix = words["must"] if c.kind == CriterionKind.MUST and credit < 0 else ""
    tail = f" ({effect_text(effect, lang)})"
    detail = f" ({age})" if age else ""
    if c.matcher is Matcher.RANGE and shown:
        b = _bounds(c, unit, lang)
        state = "in" if credit >= 1 else "near" if credit > 0 else "out"
        d = words[b["shape"]].format(**b)
        return prefix + words[f"{state} {b['shape']}"].format(s=f"{label} {shown}{detail}", d=d, **b) + tail
    subject = words["is"].format(label=label, value=shown) + detail if shown else words["blank"].format(label=label)
    if credit > 0:
        return words["match"].format(s=subject) + tail
    return prefix + words["expects"].format(s=subject, e=expectation(c, unit, lang)) + tail


def contribution(
    c: Criterion, label: str, raw: object, kind: FieldType, unit: str | None, age: int | None, credit: float,
    effect: float, language: str,
) -> Contribution:
    """A known criterion's Contribution: ``raw`` is the record's value, ``unit``/``age`` the date age for date
    ranges, ``credit`` as in ``contribution_text``, ``effect`` the exact points (rounded half away from 0)."""
    shown, lang = value_text(raw, kind, language), _lang(language)
    if c.kind == CriterionKind.DISQUALIFIER:
        text, state = disqualifier_text(label, shown, lang), CriterionState.MATCH
    else:
        age_shown = "" if age is None or unit is None else age_text(age, unit, lang)
        text = contribution_text(c, unit, label, shown, age_shown, credit, effect, lang)
        state = CriterionState.MATCH if credit > 0 else CriterionState.MISMATCH
    rounded = copysign(floor(abs(effect) * 10 + 0.5) / 10, effect) if effect else 0.0
    return Contribution(c.field, label, raw, state, CriterionKind(c.kind), rounded, text)


def disqualifier_text(label: str, shown: str, language: str) -> str:
    """A matched disqualifier: en "Disqualifier: Payment history is overdue — lead disqualified"."""
    words = _PHRASES[_lang(language)]
    subject = words["is"].format(label=label, value=shown) if shown else words["blank"].format(label=label)
    return words["dq"].format(s=subject)


def unknown_text(
    label: str, grade: Grade, if_match: Grade, if_mismatch: Grade, gain: int, loss: int, disqualifier: bool,
    language: str,
) -> str:
    """Why to ask about an unknown field: en "Ask about Budget: could raise the grade to B" (or lower it,
    disqualify the lead, move the score by points, or not change it); ru "Уточните «Бюджет»: ..."."""
    words = _PHRASES[_lang(language)]
    up, down = GRADE_RANK[if_match] > GRADE_RANK[grade], GRADE_RANK[if_mismatch] < GRADE_RANK[grade]
    key = ("disqualify" if disqualifier and loss < 0 else "updown" if up and down else "up" if up else "down" if down
           else "gainloss" if gain and loss else "gain" if gain else "loss" if loss else "none")
    what = words[key].format(g=if_match, h=if_mismatch, gain=gain, loss=-loss)
    return words["ask"].format(label=label, what=what)
