"""Worked examples of persona scoring; every expected number is computed by hand in the comments."""

# Russian sentences are intentional: Cyrillic letters are not Latin confusables.
# ruff: noqa: RUF001

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.personas import (
    CriterionKind,
    Grade,
    GradeThresholds,
    PersonaSpec,
    PersonaSpecError,
    Ring,
    parse_criteria,
)
from service.domain.scoring import (
    CompiledPersona,
    CriterionState,
    PersonaScore,
    Trend,
    best_fit,
    prepare,
    trend,
)

TODAY = date(2025, 6, 1)
FIELDS = {
    f.key: f
    for f in (
        FieldSpec("industry", "Industry", FieldType.ENUM, Constraints(options=("retail", "b2b", "it")), "Отрасль"),
        FieldSpec("budget", "Budget", FieldType.MONEY, label_ru="Бюджет"),
        FieldSpec("vip", "VIP", FieldType.BOOLEAN),
        FieldSpec("channels", "Channels", FieldType.MULTI_ENUM, Constraints(options=("web", "phone", "email")),
                  "Каналы"),
        FieldSpec("title", "Job title", FieldType.TEXT, label_ru="Должность"),
        FieldSpec("founded", "Founded", FieldType.DATE, label_ru="Дата основания"),
        FieldSpec("age", "Age", FieldType.INTEGER, label_ru="Возраст"),
        FieldSpec("payment", "Payment history", FieldType.ENUM, Constraints(options=("ok", "overdue")),
                  "Платёжная история"),
        FieldSpec("born", "Birth date", FieldType.DATE),
    )
}

# W = 3 + 2 + 1 + 1 + 1 + 2 = 10 (the disqualifier's weight does not count).
BASE = [
    {"field": "industry", "matcher": "in", "values": ["retail", "b2b"], "weight": 3},
    {"field": "budget", "matcher": "range", "min": 1000, "kind": "must", "weight": 2},
    {"field": "vip", "matcher": "boolean", "value": True},
    {"field": "channels", "matcher": "contains_any", "values": ["web"]},
    {"field": "title", "matcher": "regex", "pattern": "director|ceo"},
    {"field": "founded", "matcher": "range", "min": 2, "max": 10, "unit": "years", "soft_margin": 2, "weight": 2},
    {"field": "payment", "matcher": "equals", "value": "overdue", "kind": "disqualifier", "weight": 50},
]
ALL_MATCH: dict[str, object] = {
    "industry": "retail", "budget": "5000", "vip": True, "channels": ["web", "phone"], "title": "CEO",
    "founded": "2020-01-15", "payment": "ok",
}


def persona(items: list[dict[str, Any]], pid: int = 1, **kwargs: Any) -> CompiledPersona:
    spec = PersonaSpec(pid, 3, f"P{pid}", kwargs.pop("ring", Ring.TARGET), parse_criteria(items, FIELDS), **kwargs)
    return CompiledPersona(spec, FIELDS)


def score(items: list[dict[str, Any]], values: dict[str, object], language: str = "en", **kw: Any) -> PersonaScore:
    compiled = persona(items, **kw)
    prepared = prepare(values, FIELDS, TODAY)
    result = compiled.explain(prepared, language)
    quick = compiled.quick(prepared)
    assert quick == (result.score, result.grade, result.completeness, result.disqualified)
    return result


def texts(result: PersonaScore) -> tuple[list[str], list[str], list[str]]:
    return ([c.text for c in result.top_positive], [c.text for c in result.top_negative],
            [u.text for u in result.unknown])


def test_all_criteria_match_gives_100_and_grade_a() -> None:
    result = score(BASE, ALL_MATCH)  # 50 + 50 * 10 / 10 = 100
    assert (result.score, result.grade, result.completeness) == (100, Grade.A, 100)
    assert not result.disqualified and not result.capped and result.unknown == ()
    assert (result.persona_id, result.persona_version, result.ring) == (1, 3, Ring.TARGET)
    # Top 3 by effect: industry 50*3/10 = 15; then budget and founded 10 each (tie: field key).
    assert [(c.field, c.effect) for c in result.top_positive] == [("industry", 15.0), ("budget", 10.0),
                                                                  ("founded", 10.0)]
    assert result.top_negative == ()


def test_all_criteria_mismatch_gives_0_and_grade_d() -> None:
    values = {"industry": "it", "budget": "500", "vip": False, "channels": ["email"], "title": "Intern",
              "founded": "2025-01-01", "payment": "ok"}  # founded: 0 years, 2 below min = the whole margin
    result = score(BASE, values)  # 50 + 50 * -10 / 10 = 0; the must-cap (59) does not lower 0
    assert (result.score, result.grade, result.completeness, result.capped) == (0, Grade.D, 100, False)
    assert result.top_positive == ()
    # Must-mismatch first, then the most negative: industry -15, founded -10.
    assert [(c.field, c.effect, c.state) for c in result.top_negative] == [
        ("budget", -10.0, CriterionState.MISMATCH), ("industry", -15.0, CriterionState.MISMATCH),
        ("founded", -10.0, CriterionState.MISMATCH)]


def test_all_unknown_gives_the_neutral_50() -> None:
    result = score(BASE, {})  # no known criterion: 50 + 0 = 50, grade C (40 <= 50 < 60)
    assert (result.score, result.grade, result.completeness) == (50, Grade.C, 0)
    assert result.top_positive == result.top_negative == ()
    assert len(result.unknown) == 7


def test_invalid_values_count_as_unknown() -> None:
    values = {"budget": "a lot", "founded": "2020-02-30", "vip": "maybe", "channels": 5, "title": "  "}
    assert score(BASE, values).score == 50
    assert score(BASE, values).completeness == 0


def test_a_value_inside_the_soft_margin_earns_partial_credit() -> None:
    # founded 2014-01-15 is 11 years old: 1 year above max 10, margin 2 -> credit 1 - 1/2 = 0.5.
    # S = 3 + 2 + 1 + 1 + 1 + 2 * 0.5 = 9 -> 50 + 50 * 9 / 10 = 95; effect 50 * 1 / 10 = +5.0.
    result = score(BASE, {**ALL_MATCH, "founded": "2014-01-15"})
    assert (result.score, result.grade) == (95, Grade.A)
    # Top 3: industry 15, budget 10, then a four-way tie at 5 won by the first key, channels.
    assert [c.field for c in result.top_positive] == ["industry", "budget", "channels"]
    explained = persona(BASE).explain(prepare({"founded": "2014-01-15"}, FIELDS, TODAY))
    partial = "Founded 2014-01-15 (11 years) is close to 2–10 years: partial match (+5.0)"
    assert explained.top_positive[0].text == partial
    # Just outside the margin (12 years: 2 above, margin 2) is a full mismatch.
    assert score(BASE, {**ALL_MATCH, "founded": "2013-01-15"}).score == 80  # 50 + 50 * (8 - 2) / 10


def test_date_ranges_count_completed_years_months_and_days_on_the_scoring_day() -> None:
    prepared = prepare({"born": "1985-06-01", "founded": "2025-01-02"}, FIELDS, TODAY).values
    # (days, completed months, completed years); 40 years = 40 * 365 + 10 leap days.
    assert (prepared["born"], prepared["founded"]) == ((14610, 480, 40), (150, 4, 0))  # Jan 2 -> Jun 1: 4 months
    assert prepare({"born": "2025-06-10"}, FIELDS, TODAY).values["born"] == (-9, -1, -1)  # a future date
    years = [{"field": "born", "matcher": "range", "min": 25, "max": 40}]  # unit defaults to years
    ages = {"1985-06-01": 100, "1984-06-02": 100, "1984-06-01": 0, "2000-06-02": 0, "2000-06-01": 100}
    for born, expected in ages.items():  # 40, 40 (41 tomorrow), 41, 24 (25 tomorrow), 25
        assert score(years, {"born": born}).score == expected, born
    months = [{"field": "born", "matcher": "range", "max": 4, "unit": "months"}]
    assert score(months, {"born": "2025-01-02"}).score == 100 and score(months, {"born": "2025-01-01"}).score == 0
    days = [{"field": "born", "matcher": "range", "min": 10, "unit": "days"}]
    assert score(days, {"born": "2025-05-22"}).score == 100 and score(days, {"born": "2025-05-23"}).score == 0


def test_a_missed_must_caps_the_grade() -> None:
    # S = 8 - 2 = 6 -> 50 + 50 * 6 / 10 = 80 (A), capped at B's threshold - 1 = 59 (C).
    result = score(BASE, {**ALL_MATCH, "budget": "500"})
    assert (result.score, result.grade, result.capped) == (59, Grade.C, True)
    assert result.top_negative[0].text == "Must-have: Budget 500 is below 1000 (−10.0)"
    assert result.top_negative[0].kind is CriterionKind.MUST
    # must_cap B: at most A's threshold - 1 = 79 (B); must_cap A never caps; D: at most C's - 1 = 39.
    assert score(BASE, {**ALL_MATCH, "budget": "500"}, must_cap=Grade.B).score == 79
    assert score(BASE, {**ALL_MATCH, "budget": "500"}, must_cap=Grade.A).score == 80
    low = score(BASE, {**ALL_MATCH, "budget": "500"}, must_cap=Grade.D)
    assert (low.score, low.grade) == (39, Grade.D)
    # An unknown must does not cap: S = 8 -> 90.
    assert score(BASE, {**ALL_MATCH, "budget": None}).score == 90


def test_a_matched_disqualifier_gives_0_d_with_the_reason() -> None:
    result = score(BASE, {**ALL_MATCH, "payment": "overdue"})
    assert (result.score, result.grade, result.disqualified, result.capped) == (0, Grade.D, True, False)
    assert result.completeness == 100
    reason = result.reason
    assert reason is not None and reason == result.top_negative[0]
    assert (reason.field, reason.value, reason.state, reason.kind) == (
        "payment", "overdue", CriterionState.MATCH, CriterionKind.DISQUALIFIER)
    assert reason.effect == -100.0  # minus the score before disqualification
    assert reason.text == "Disqualifier: Payment history is overdue — lead disqualified"
    ru = score(BASE, {**ALL_MATCH, "payment": "overdue"}, "ru-RU").reason
    assert ru is not None and ru.text == "Стоп-фактор: Платёжная история — overdue — лид дисквалифицирован"
    assert score(BASE, {"payment": "overdue"}).score == 0  # whatever else is unknown


def test_scores_round_half_up() -> None:
    items = [
        {"field": "industry", "matcher": "in", "values": ["retail"]},
        {"field": "vip", "matcher": "boolean", "value": True},
        {"field": "payment", "matcher": "in", "values": ["ok"]},
        {"field": "title", "matcher": "regex", "pattern": "ceo"},
    ]
    result = score(items, {"industry": "retail"})  # 50 + 50 * 1 / 4 = 62.5 -> 63 (not banker's 62)
    assert (result.score, result.grade, result.completeness) == (63, Grade.B, 25)


def test_completeness_rounds_half_up() -> None:
    keys = ["industry", "budget", "vip", "channels", "title", "founded", "age", "payment"]
    items = [{"field": k, "matcher": "range", "min": 1} if k in ("budget", "founded", "age") else
             {"field": k, "matcher": "boolean", "value": True} if k == "vip" else
             {"field": k, "matcher": "contains_any", "values": ["web"]} if k == "channels" else
             {"field": k, "matcher": "regex", "pattern": "x"} if k == "title" else
             {"field": k, "matcher": "equals", "value": "ok" if k == "payment" else "it"} for k in keys]
    result = score(items, {"vip": True})  # 1 of 8 known: 12.5 -> 13; 50 + 50 / 8 = 56.25 -> 56
    assert (result.completeness, result.score) == (13, 56)
    assert score(items[:7], {"vip": True}).completeness == 14  # 100 / 7 = 14.29


def test_blank_is_value_makes_a_blank_match_or_mismatch() -> None:
    items = [
        {"field": "industry", "matcher": "in", "values": ["retail", ""], "blank_is_value": True, "weight": 3},
        {"field": "title", "matcher": "equals", "value": "ceo", "blank_is_value": True},
    ]
    blank = score(items, {})  # +3 - 1 = 2 of W 4 -> 75, both known
    assert (blank.score, blank.completeness) == (75, 100)
    assert texts(blank)[:2] == (["Industry is not filled: matches the persona (+37.5)"],
                                ["Job title is not filled: the persona expects ceo (−12.5)"])
    assert score(items, {"industry": "it", "title": " CEO "}).score == 25  # -3 + 1 = -2 -> 25
    neutral = [{k: v for k, v in item.items() if k != "blank_is_value"} for item in items]
    neutral[0]["values"] = ["retail"]
    assert (score(neutral, {}).score, score(neutral, {}).completeness) == (50, 0)


def test_the_spec_sentences_in_english_and_russian() -> None:
    items = [
        {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 3},
        {"field": "age", "matcher": "range", "min": 25, "max": 40, "weight": 2},
        {"field": "vip", "matcher": "boolean", "value": True, "weight": 7},
    ]  # W = 12: industry 50 * 3 / 12 = 12.5, age 50 * 2 / 12 = 8.33
    en = score(items, {"industry": "retail", "age": 52})  # S = 3 - 2 = 1 -> 54.17 -> 54
    assert (en.score, en.grade) == (54, Grade.C)
    assert texts(en)[:2] == (["Industry is retail: matches the persona (+12.5)"], ["Age 52 is outside 25–40 (−8.3)"])
    assert (en.top_negative[0].effect, en.top_negative[0].value) == (-8.3, 52)
    ru = score(items, {"industry": "retail", "age": 52}, "ru")
    assert texts(ru)[:2] == (["Отрасль — retail: совпадает с портретом (+12,5)"],
                             ["Возраст 52 — вне диапазона от 25 до 40 (−8,3)"])
    # vip unknown: 54 -> (1 + 7) / 12 -> 83 (A) or (1 - 7) / 12 -> 25 (D).
    assert texts(en)[2] == ["Ask about VIP: could raise the grade to A or lower it to D"]
    assert texts(ru)[2] == ["Уточните «VIP»: может повысить грейд до A или понизить до D"]


@pytest.mark.parametrize(
    ("item", "values", "en", "ru"),
    [
        ({"field": "vip", "matcher": "boolean", "value": True}, {"vip": False},
         "VIP is no: the persona expects yes (−50.0)", "VIP — нет: ожидается да (−50,0)"),
        ({"field": "channels", "matcher": "contains_all", "values": ["web", "phone"]}, {"channels": ["web"]},
         "Channels is web: the persona expects all of web, phone (−50.0)",
         "Каналы — web: ожидается все из: web, phone (−50,0)"),
        ({"field": "industry", "matcher": "in", "values": ["retail", "b2b"]}, {"industry": "it"},
         "Industry is it: the persona expects one of retail, b2b (−50.0)",
         "Отрасль — it: ожидается одно из: retail, b2b (−50,0)"),
        ({"field": "title", "matcher": "regex", "pattern": "^ceo"}, {"title": "Intern"},
         "Job title is Intern: the persona expects a value matching its pattern (−50.0)",
         "Должность — Intern: ожидается значение по шаблону (−50,0)"),
        ({"field": "budget", "matcher": "range", "max": 1000.5}, {"budget": "2000.25"},
         "Budget 2000.25 is above 1000.5 (−50.0)", "Бюджет 2000,25 — вне диапазона до 1000,5 (−50,0)"),
        ({"field": "budget", "matcher": "range", "min": 1000}, {"budget": "5000"},
         "Budget 5000 is at least 1000 (+50.0)", "Бюджет 5000 — в диапазоне от 1000 (+50,0)"),
        ({"field": "founded", "matcher": "range", "min": 2, "max": 5}, {"founded": "2024-06-01"},
         "Founded 2024-06-01 (1 year) is outside 2–5 years (−50.0)",
         "Дата основания 2024-06-01 (1 год) — вне диапазона от 2 до 5 лет (−50,0)"),
        ({"field": "founded", "matcher": "range", "min": 1, "unit": "months", "soft_margin": 4},
         {"founded": "2025-05-15"},
         "Founded 2025-05-15 (0 months) is just below 1 month: partial match (+37.5)",
         "Дата основания 2025-05-15 (0 месяцев) — близко к диапазону от 1 месяца: частичное совпадение (+37,5)"),
        ({"field": "founded", "matcher": "range", "max": 21, "unit": "days"}, {"founded": "2025-05-01"},
         "Founded 2025-05-01 (31 days) is above 21 days (−50.0)",
         "Дата основания 2025-05-01 (31 день) — вне диапазона до 21 дня (−50,0)"),
    ],
)
def test_sentences_per_matcher(item: dict[str, Any], values: dict[str, object], en: str, ru: str) -> None:
    # One criterion: effect is +-50 (or 50 * 0.75 inside the margin: 1 month - 0 months = 1 of 4).
    for language, expected in (("en", en), ("ru", ru)):
        result = score([item], values, language)
        (contribution,) = result.top_positive + result.top_negative
        assert contribution.text == expected


def test_the_top_three_are_ordered_by_effect_then_field_key() -> None:
    items = [
        {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 5},
        {"field": "vip", "matcher": "boolean", "value": True, "weight": 4},
        {"field": "channels", "matcher": "contains_any", "values": ["web"], "weight": 4},
        {"field": "title", "matcher": "regex", "pattern": "ceo", "weight": 2},
        {"field": "age", "matcher": "range", "min": 18},
    ]  # W = 16: effects 15.625, 12.5, 12.5, 6.25, 3.125
    good = score(items, {"industry": "retail", "vip": True, "channels": ["web"], "title": "CEO", "age": 30})
    assert [(c.field, c.effect) for c in good.top_positive] == [("industry", 15.6), ("channels", 12.5),
                                                                ("vip", 12.5)]
    items[3]["kind"] = "must"
    bad = score(items, {"industry": "it", "vip": False, "channels": ["email"], "title": "Intern", "age": 3})
    # The must-mismatch (title, -6.25 -> -6.3) comes first although it is not among the three largest.
    assert [(c.field, c.effect) for c in bad.top_negative] == [("title", -6.3), ("industry", -15.6),
                                                               ("channels", -12.5)]
    assert bad.score == 0 and bad.top_positive == ()


def test_unknown_fields_are_ranked_by_grade_steps_then_points_then_key() -> None:
    items = [
        {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 3},
        {"field": "vip", "matcher": "boolean", "value": True, "weight": 2},
        {"field": "payment", "matcher": "equals", "value": "overdue", "kind": "disqualifier"},
        {"field": "title", "matcher": "regex", "pattern": "ceo", "weight": 2},
    ]  # W = 7; thresholds A 100, B 99, C 1: everything from 1 to 98 is C
    result = score(items, {}, thresholds=GradeThresholds(100, 99, 1))
    assert (result.score, result.grade) == (50, Grade.C)
    # payment: 50 -> 0 (D), 1 step; industry 50 +- 21.4 -> 71/29, 0 steps, 42 points;
    # title and vip: 50 +- 14.3 -> 64/36, 28 points each (tie: field key).
    rows = [(u.field, u.gain, u.loss, u.grade_if_match, u.grade_if_mismatch) for u in result.unknown]
    assert rows == [("payment", 0, -50, Grade.C, Grade.D), ("industry", 21, -21, Grade.C, Grade.C),
                    ("title", 14, -14, Grade.C, Grade.C), ("vip", 14, -14, Grade.C, Grade.C)]
    assert [u.text for u in result.unknown[:2]] == [
        "Ask about Payment history: could disqualify the lead",
        "Ask about Industry: could raise the score by 21 or lower it by 21"]
    ru = score(items, {}, "ru", thresholds=GradeThresholds(100, 99, 1))
    assert [u.text for u in ru.unknown[:2]] == ["Уточните «Платёжная история»: может дисквалифицировать лид",
                                                "Уточните «Отрасль»: может повысить балл на 21 или снизить на 21"]


def test_an_unknown_must_could_cost_the_cap() -> None:
    result = score(BASE, {**ALL_MATCH, "budget": ""})  # S = 8 -> 90 (A)
    (budget,) = result.unknown
    # match: S = 10 -> 100 (A); mismatch: S = 6 -> 80, capped to 59 (C).
    assert (budget.gain, budget.loss, budget.grade_if_match, budget.grade_if_mismatch) == (10, -31, Grade.A,
                                                                                          Grade.C)
    assert budget.text == "Ask about Budget: could lower the grade to C"
    disqualified = score(BASE, {"payment": "overdue"})
    assert {(u.gain, u.loss, u.text) for u in disqualified.unknown} == {
        (0, 0, f"Ask about {label}: would not change the score")
        for label in ("Industry", "Budget", "VIP", "Channels", "Job title", "Founded")}


def test_prepare_converts_each_type_once() -> None:
    values = prepare({
        "industry": " retail ", "budget": "1e3", "age": 41, "vip": "yes", "channels": "web; phone",
        "title": "Sales Director", "founded": "1714521600000", "payment": "", "born": None, "unknown": "x",
    }, FIELDS, TODAY).values
    assert values == {
        "industry": "retail", "budget": 1000.0, "age": 41.0, "vip": True, "channels": frozenset({"web", "phone"}),
        "title": "sales director", "title#": "Sales Director",
        "founded": (396, 13, 1),  # 2024-05-01 (epoch ms) -> 2025-06-01: 365 + 31 days
    }
    for bad in ("nan", "1_000", "inf", "١٢", "abc", True, [1], "1e200"):
        assert "budget" not in prepare({"budget": bad}, FIELDS, TODAY).values, bad
    assert prepare({"channels": [" web", ""]}, FIELDS, TODAY).values["channels"] == frozenset({"web"})
    assert "channels" not in prepare({"channels": []}, FIELDS, TODAY).values


def test_text_matching_ignores_case_and_spaces_and_regex_sees_the_original() -> None:
    items = [{"field": "title", "matcher": "in", "values": [" CEO", "Owner"]}]
    assert score(items, {"title": "ceo "}).score == 100
    assert score([{"field": "title", "matcher": "regex", "pattern": "^Straße$"}], {"title": "STRAßE"}).score == 100


def test_a_persona_no_longer_fitting_its_fields_is_refused() -> None:
    spec = PersonaSpec(1, 1, "P", Ring.CORE, parse_criteria(BASE, FIELDS))
    changed = {**FIELDS, "budget": FieldSpec("budget", "Budget", FieldType.TEXT)}
    with pytest.raises(PersonaSpecError):
        CompiledPersona(spec, changed)
    with pytest.raises(PersonaSpecError):
        CompiledPersona(spec, {k: v for k, v in FIELDS.items() if k != "vip"})


def test_a_persona_without_scored_criteria_is_neutral() -> None:
    only_dq = [BASE[-1]]
    assert score(only_dq, {"payment": "ok"}).score == 50
    assert score([], {}).completeness == 100


def _score(pid: int, value: int, ring: Ring, disqualified: bool = False) -> PersonaScore:
    return PersonaScore(pid, 1, value, Grade.D, 100, disqualified, False, (), (), (), ring)


def test_best_fit_prefers_score_then_ring_then_lowest_id() -> None:
    assert best_fit([(1, 70, "target"), (2, 80, "near-target"), (3, 80, "core")], 50) == 3
    assert best_fit([(5, 80, Ring.CORE), (4, 80, Ring.CORE), (6, 79, Ring.CORE)], 50) == 4
    assert best_fit([(2, 80, "near-target"), (1, 80, "target")], 50) == 1
    assert best_fit([(1, 49, "core"), (2, 10, "target")], 50) is None
    assert best_fit([(1, 50, "core")], 50) == 1  # the floor itself qualifies
    assert best_fit([], 0) is None
    scores = [_score(1, 90, Ring.CORE, disqualified=True), _score(2, 60, Ring.NEAR_TARGET), _score(3, 60, Ring.TARGET)]
    assert best_fit(scores, 0) == 3
    assert best_fit([_score(1, 0, Ring.CORE, disqualified=True)], 0) is None


@pytest.mark.parametrize(
    ("previous", "current", "threshold", "expected"),
    [
        (None, 50, 5, Trend.NOT_ENOUGH_INFO),
        (50, 55, 5, Trend.IMPROVING),
        (50, 54, 5, Trend.STEADY),
        (50, 45, 5, Trend.DECLINING),
        (50, 46, 5, Trend.STEADY),
        (50, 51, 1, Trend.IMPROVING),
        (50, 50, 1, Trend.STEADY),
    ],
)
def test_trend(previous: int | None, current: int, threshold: int, expected: Trend) -> None:
    assert trend(previous, current, threshold) is expected


def test_the_benchmark_scenario_agrees_with_numpy() -> None:
    bench = pytest.importorskip("bench.scoring")
    assert bench.main(["--leads", "300", "--seed", "3"]) == 0


def test_generated_quick_reads_keys_and_patterns_as_values_never_as_code() -> None:
    hostile = 'x"] or __import__("os").exit(3) #\n'
    fields = {hostile: FieldSpec(hostile, "Hostile", FieldType.TEXT), "n": FieldSpec("n", "N", FieldType.NUMBER)}
    items = [{"field": hostile, "matcher": "regex", "pattern": '"\\); raise SystemExit #', "weight": 2},
             {"field": hostile, "matcher": "in", "values": ['a"b', "\n"], "kind": "must"},
             {"field": "n", "matcher": "range", "min": 1, "max": 2, "soft_margin": 1}]
    compiled = CompiledPersona(PersonaSpec(1, 1, '")\nraise SystemExit', Ring.CORE, parse_criteria(items, fields)),
                               fields)
    for values in ({hostile: '"); raise SystemExit #', "n": 2.5}, {hostile: 'A"B', "n": 0}, {}):
        prepared = prepare(values, fields, TODAY)
        result = compiled.explain(prepared)
        assert compiled.quick(prepared) == (result.score, result.grade, result.completeness, result.disqualified)
    # W = 4: the pattern matches its own text (+2), the must misses (-1), n is in range (+1): 50 + 50 * 2 / 4 = 75,
    # capped at 59 by the missed must.
    matched = prepare({hostile: '"); raise SystemExit #', "n": 1.5}, fields, TODAY)
    assert compiled.quick(matched)[:2] == (59, Grade.C)
    assert compiled.explain(matched).capped
