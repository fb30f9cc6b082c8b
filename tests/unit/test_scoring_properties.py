"""Properties of persona scoring over random personas and leads (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.personas import (
    Criterion,
    CriterionKind,
    Grade,
    GradeThresholds,
    Matcher,
    PersonaSpec,
    Ring,
    parse_criteria,
)
from service.domain.scoring import CompiledPersona, PersonaScore, prepare

# The same examples every run: a rare slow draw never turns CI red by chance.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)
TODAY = date(2025, 6, 1)
OPTIONS = {"industry": ("retail", "b2b", "it"), "channels": ("web", "phone", "email"), "payment": ("ok", "overdue")}
FIELDS = {
    f.key: f
    for f in (
        FieldSpec("industry", "Industry", FieldType.ENUM, Constraints(options=OPTIONS["industry"]), "Отрасль"),
        FieldSpec("payment", "Payment", FieldType.ENUM, Constraints(options=OPTIONS["payment"])),
        FieldSpec("title", "Job title", FieldType.TEXT),
        FieldSpec("budget", "Budget", FieldType.MONEY, label_ru="Бюджет"),
        FieldSpec("employees", "Employees", FieldType.INTEGER),
        FieldSpec("founded", "Founded", FieldType.DATE),
        FieldSpec("channels", "Channels", FieldType.MULTI_ENUM, Constraints(options=OPTIONS["channels"])),
        FieldSpec("vip", "VIP", FieldType.BOOLEAN),
        FieldSpec("flag_a", "Flag A", FieldType.BOOLEAN),  # only for the neutral-unknown property
        FieldSpec("flag_b", "Flag B", FieldType.BOOLEAN),
    )
}
KEYS = [k for k in FIELDS if not k.startswith("flag")]
WORDS = ("ceo", "owner", "Founder", "CTO")
PATTERNS = {"^ceo": "CEO of Acme", "director|head": "Sales Director", "sales": "Head of Sales", "^[a-z]+$": "owner"}
NO_MATCH_TEXT = "123 ###"  # equal to no word, matched by no pattern


def age_date(age: int, unit: str) -> str:
    """A date whose completed age on TODAY is exactly ``age`` units (TODAY is the 1st of a month)."""
    if unit == "days":
        return (TODAY - timedelta(days=age)).isoformat()
    months = TODAY.year * 12 + TODAY.month - 1 - age * (12 if unit == "years" else 1)
    return date(months // 12, months % 12 + 1, TODAY.day).isoformat()


def rule_for(key: str) -> st.SearchStrategy[dict[str, Any]]:
    kind = FieldType(FIELDS[key].type)
    if kind is FieldType.ENUM:
        options = OPTIONS[key]
        return st.one_of(
            st.builds(lambda v: {"matcher": "equals", "value": v}, st.sampled_from(options)),
            st.builds(lambda v: {"matcher": "in", "values": v}, st.lists(st.sampled_from(options), min_size=1,
                                                                          max_size=2, unique=True)),
        )
    if kind is FieldType.TEXT:
        return st.one_of(
            st.builds(lambda v: {"matcher": "equals", "value": v}, st.sampled_from(WORDS)),
            st.builds(lambda v: {"matcher": "in", "values": v}, st.lists(st.sampled_from(WORDS), min_size=1,
                                                                          max_size=3, unique=True)),
            st.builds(lambda p: {"matcher": "regex", "pattern": p}, st.sampled_from(sorted(PATTERNS))),
        )
    if kind is FieldType.MULTI_ENUM:
        return st.builds(lambda m, v: {"matcher": m, "values": v}, st.sampled_from(["contains_any", "contains_all"]),
                         st.lists(st.sampled_from(OPTIONS[key]), min_size=1, max_size=2, unique=True))
    if kind is FieldType.BOOLEAN:
        return st.builds(lambda v: {"matcher": "boolean", "value": v}, st.booleans())
    date_field = kind is FieldType.DATE
    low = st.integers(0, 40) if date_field else st.integers(0, 2000)
    span = st.integers(0, 30) if date_field else st.integers(0, 2000)
    margin = st.none() | (st.integers(1, 5) if date_field else st.integers(1, 500))
    unit = st.sampled_from(["days", "months", "years"]) if date_field else st.none()

    def ranged(lo: int, width: int, which: str, m: int | None, u: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"matcher": "range", "min": lo, "max": lo + width}
        out.pop("max" if which == "min" else "min" if which == "max" else "", None)
        return {**out, **({"soft_margin": m} if m else {}), **({"unit": u} if u else {})}

    ranges = st.builds(ranged, low, span, st.sampled_from(["min", "max", "both"]), margin, unit)
    if date_field:
        return ranges
    return ranges | st.builds(lambda v: {"matcher": "equals", "value": v}, st.integers(0, 3000))


def criterion_for(key: str, kinds: tuple[str, ...] = ("must", "nice", "nice", "disqualifier")
                  ) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda rule, kind, weight, blank: {"field": key, "kind": kind, "weight": weight,
                                                        "blank_is_value": blank, **rule},
                     rule_for(key), st.sampled_from(kinds), st.sampled_from([0.5, 1, 2, 3, 7.5]),
                     st.booleans() | st.just(False))


def criteria(distinct: bool, min_size: int = 1) -> st.SearchStrategy[list[dict[str, Any]]]:
    keys = st.lists(st.sampled_from(KEYS), min_size=min_size, max_size=8, unique=distinct)
    return keys.flatmap(lambda ks: st.tuples(*[criterion_for(k) for k in ks]).map(list))


def value_for(key: str) -> st.SearchStrategy[object]:
    kind = FieldType(FIELDS[key].type)
    blank = st.sampled_from([None, "", []])
    if kind is FieldType.ENUM:
        valid: st.SearchStrategy[object] = st.sampled_from(OPTIONS[key])
    elif kind is FieldType.TEXT:
        valid = st.sampled_from([*WORDS, *PATTERNS.values(), NO_MATCH_TEXT])
    elif kind is FieldType.MULTI_ENUM:
        valid = st.lists(st.sampled_from(OPTIONS[key]), min_size=1, max_size=3, unique=True)
    elif kind is FieldType.BOOLEAN:
        valid = st.booleans()
    elif kind is FieldType.DATE:
        valid = st.builds(age_date, st.integers(-3, 60), st.sampled_from(["days", "months", "years"]))
    else:
        valid = st.integers(0, 5000) | st.integers(0, 5000).map(str) | st.sampled_from(["12.5", "999.99"])
    return st.one_of(valid, valid, blank, st.just("not valid"))


leads = st.fixed_dictionaries({key: value_for(key) for key in KEYS})
thresholds = st.sampled_from([GradeThresholds(), GradeThresholds(70, 50, 30), GradeThresholds(100, 99, 1)])


DEFAULT_THRESHOLDS = GradeThresholds()


def build(items: list[dict[str, Any]], t: GradeThresholds = DEFAULT_THRESHOLDS, cap: Grade = Grade.C
          ) -> CompiledPersona:
    return CompiledPersona(PersonaSpec(7, 2, "P", Ring.CORE, parse_criteria(items, FIELDS), t, cap), FIELDS)


def quick(compiled: CompiledPersona, values: dict[str, object]) -> tuple[int, Grade, int, bool]:
    return compiled.quick(prepare(values, FIELDS, TODAY))


def explain(compiled: CompiledPersona, values: dict[str, object], language: str = "en") -> PersonaScore:
    return compiled.explain(prepare(values, FIELDS, TODAY), language)


def matching_value(c: Criterion) -> object:
    """A record value that makes ``c`` match (None when no such value is listed)."""
    if c.matcher in (Matcher.EQUALS, Matcher.BOOLEAN):
        return c.value
    if c.matcher is Matcher.IN:
        return next((v for v in c.values if v), None)
    if c.matcher is Matcher.CONTAINS_ANY:
        return [c.values[0]]
    if c.matcher is Matcher.CONTAINS_ALL:
        return list(c.values)
    if c.matcher is Matcher.REGEX:
        return PATTERNS[c.pattern or ""]
    target = int(c.min if c.min is not None else c.max)  # type: ignore[arg-type]
    return age_date(target, c.unit or "years") if FIELDS[c.field].type == FieldType.DATE else target


def mismatching_value(c: Criterion) -> object:
    """A record value that makes ``c`` mismatch (None when there is none)."""
    options = OPTIONS.get(c.field, ())
    if c.matcher is Matcher.BOOLEAN:
        return not c.value
    if c.matcher is Matcher.EQUALS:
        return (next((o for o in options if o != c.value), None) if options else
                c.value + 1 if isinstance(c.value, float) else NO_MATCH_TEXT)
    if c.matcher is Matcher.IN:
        return next((o for o in options if o not in c.values), None) if options else NO_MATCH_TEXT
    if c.matcher is Matcher.REGEX:
        return NO_MATCH_TEXT
    if c.matcher in (Matcher.CONTAINS_ANY, Matcher.CONTAINS_ALL):
        others = [o for o in options if o not in c.values]
        if c.matcher is Matcher.CONTAINS_ALL and len(c.values) > 1:
            return [c.values[0]]
        return others[:1] or None
    margin = int(c.soft_margin or 0)
    target = int(c.max) + margin + 1 if c.max is not None else int(c.min) - margin - 1  # type: ignore[arg-type]
    return age_date(target, c.unit or "years") if FIELDS[c.field].type == FieldType.DATE else target


def scored_index(items: list[dict[str, Any]], data: st.DataObject) -> int:
    """A random must/nice criterion without blank_is_value (so that a blank is unknown)."""
    candidates = [i for i, item in enumerate(items) if item["kind"] != "disqualifier" and not item["blank_is_value"]]
    assume(candidates)
    return data.draw(st.sampled_from(candidates))


@PROPERTY
@given(criteria(distinct=True), leads, thresholds, st.sampled_from(list(Grade)), st.data())
def test_a_matching_value_for_an_unknown_criterion_never_lowers_the_score(
    items: list[dict[str, Any]], lead: dict[str, object], t: GradeThresholds, cap: Grade, data: st.DataObject
) -> None:
    compiled = build(items, t, cap)
    i = scored_index(items, data)
    c = compiled.persona.criteria[i]
    value = matching_value(c)
    assume(value is not None)
    unknown, known = {**lead, c.field: None}, {**lead, c.field: value}
    before, after = quick(compiled, unknown), quick(compiled, known)
    assert after[0] >= before[0]
    assert after[2] >= before[2]  # and completeness grows
    assert c.field not in {u.field for u in explain(compiled, known).unknown}


@PROPERTY
@given(criteria(distinct=False, min_size=0), leads, thresholds, st.sampled_from(KEYS).flatmap(
    lambda k: criterion_for(k, ("disqualifier",))), st.data())
def test_a_matched_disqualifier_always_gives_0_d(
    items: list[dict[str, Any]], lead: dict[str, object], t: GradeThresholds, dq: dict[str, Any],
    data: st.DataObject,
) -> None:
    compiled = build([*items, dq], t)
    c = compiled.persona.criteria[-1]
    value = matching_value(c)
    assume(value is not None)
    values = {**lead, c.field: value}
    assert quick(compiled, values)[:2] == (0, Grade.D) and quick(compiled, values)[3] is True
    result = explain(compiled, values, data.draw(st.sampled_from(["en", "ru"])))
    assert (result.score, result.grade, result.disqualified) == (0, Grade.D, True)
    assert result.reason is not None and result.reason.kind is CriterionKind.DISQUALIFIER


@PROPERTY
@given(criteria(distinct=True), leads, thresholds, st.sampled_from(list(Grade)), st.data())
def test_an_unknown_is_neutral_and_never_worse_than_a_mismatch(
    items: list[dict[str, Any]], lead: dict[str, object], t: GradeThresholds, cap: Grade, data: st.DataObject
) -> None:
    compiled = build(items, t, cap)
    i = scored_index(items, data)
    c = compiled.persona.criteria[i]
    wrong = mismatching_value(c)
    assume(wrong is not None)
    blank, mismatch = {**lead, c.field: None}, {**lead, c.field: wrong}
    assert quick(compiled, blank)[0] >= quick(compiled, mismatch)[0]
    # Effect 0: replacing the unknown criterion by two that cancel out (+w/2, -w/2, same total weight)
    # gives exactly the same score and grade.
    half = c.weight / 2
    others = [item for j, item in enumerate(items) if j != i]
    cancel = [{"field": "flag_a", "matcher": "boolean", "value": True, "weight": half},
              {"field": "flag_b", "matcher": "boolean", "value": True, "weight": half}]
    twin = build(others + cancel, t, cap)
    assert quick(twin, {**blank, "flag_a": True, "flag_b": False})[:2] == quick(compiled, blank)[:2]
    result = explain(compiled, blank)
    assert c.field in {u.field for u in result.unknown}
    assert c.field not in {x.field for x in result.top_positive + result.top_negative}


@PROPERTY
@given(criteria(distinct=False, min_size=0), leads, thresholds, st.data())
def test_permuting_criteria_gives_an_identical_score(
    items: list[dict[str, Any]], lead: dict[str, object], t: GradeThresholds, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(items))
    one, two = build(items, t), build(list(shuffled), t)
    assert quick(one, lead) == quick(two, lead)
    for language in ("en", "ru"):
        assert explain(one, lead, language) == explain(two, lead, language)


@PROPERTY
@given(criteria(distinct=False, min_size=0), leads, thresholds, st.sampled_from(list(Grade)))
def test_quick_agrees_with_explain_and_stays_in_range(
    items: list[dict[str, Any]], lead: dict[str, object], t: GradeThresholds, cap: Grade
) -> None:
    compiled = build(items, t, cap)
    result = explain(compiled, lead)
    assert quick(compiled, lead) == (result.score, result.grade, result.completeness, result.disqualified)
    assert 0 <= result.score <= 100 and 0 <= result.completeness <= 100
    assert result.grade is t.grade_for(result.score)
    assert len(result.top_positive) <= 3
    assert all(x.effect > 0 for x in result.top_positive)
    if result.disqualified:
        assert result.score == 0 and not result.capped
    if result.capped:
        assert result.score == t.cap_score(cap)
