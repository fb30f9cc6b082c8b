"""The persona model: parsing and validating criteria and thresholds from JSON-shaped dicts."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.errors import DomainError
from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.personas import (
    Criterion,
    CriterionKind,
    Grade,
    GradeThresholds,
    Matcher,
    PersonaSpecError,
    criterion_to_dict,
    parse_criteria,
    parse_thresholds,
    thresholds_to_dict,
)

FIELDS = {
    f.key: f
    for f in (
        FieldSpec("industry", "Industry", FieldType.ENUM, Constraints(options=("retail", "b2b", "it"))),
        FieldSpec("title", "Job title", FieldType.TEXT),
        FieldSpec("email", "Email", FieldType.EMAIL),
        FieldSpec("phone", "Phone", FieldType.PHONE),
        FieldSpec("site", "Site", FieldType.URL),
        FieldSpec("employees", "Employees", FieldType.INTEGER),
        FieldSpec("revenue", "Revenue", FieldType.NUMBER),
        FieldSpec("budget", "Budget", FieldType.MONEY),
        FieldSpec("founded", "Founded", FieldType.DATE),
        FieldSpec("channels", "Channels", FieldType.MULTI_ENUM, Constraints(options=("web", "phone", "email"))),
        FieldSpec("vip", "VIP", FieldType.BOOLEAN),
    )
}
FIELD_OF_TYPE = {FieldType(spec.type): key for key, spec in FIELDS.items()}

# The spec's table, written out independently of ALLOWED_MATCHERS.
ALLOWED = {
    FieldType.ENUM: {"equals", "in"},
    FieldType.TEXT: {"equals", "in", "regex"},
    FieldType.EMAIL: {"equals", "in", "regex"},
    FieldType.PHONE: {"equals", "in", "regex"},
    FieldType.URL: {"equals", "in", "regex"},
    FieldType.NUMBER: {"range", "equals"},
    FieldType.INTEGER: {"range", "equals"},
    FieldType.MONEY: {"range", "equals"},
    FieldType.DATE: {"range"},
    FieldType.MULTI_ENUM: {"contains_any", "contains_all"},
    FieldType.BOOLEAN: {"boolean"},
}
NUMERIC = {FieldType.NUMBER, FieldType.INTEGER, FieldType.MONEY}


def example(matcher: str, kind: FieldType) -> dict[str, Any]:
    """A criterion that is valid whenever ``matcher`` is allowed for ``kind``."""
    item: dict[str, Any] = {"field": FIELD_OF_TYPE[kind], "matcher": matcher}
    options = {FieldType.ENUM: ["retail", "b2b"], FieldType.MULTI_ENUM: ["web", "phone"]}.get(kind, ["a", "b"])
    if matcher == "equals":
        item["value"] = 5 if kind in NUMERIC else options[0]
    elif matcher in ("in", "contains_any", "contains_all"):
        item["values"] = options
    elif matcher == "range":
        item.update({"min": 1, "max": 10}, **({"unit": "years"} if kind is FieldType.DATE else {}))
    elif matcher == "regex":
        item["pattern"] = "^ceo"
    else:
        item["value"] = True
    return item


def errors_of(items: object) -> dict[str, list[str]]:
    with pytest.raises(PersonaSpecError) as caught:
        parse_criteria(items, FIELDS)
    return caught.value.errors


@pytest.mark.parametrize("kind", list(FieldType), ids=str)
@pytest.mark.parametrize("matcher", [m.value for m in Matcher])
def test_every_matcher_is_allowed_exactly_for_its_field_types(matcher: str, kind: FieldType) -> None:
    item = example(matcher, kind)
    if matcher in ALLOWED[kind]:
        (criterion,) = parse_criteria([item], FIELDS)
        assert criterion.matcher is Matcher(matcher)
        assert criterion.field == item["field"]
    else:
        errors = errors_of([item])
        assert "criteria.0.matcher" in errors
        assert f"not allowed for {kind.value} fields" in errors["criteria.0.matcher"][0]


def test_defaults_of_a_parsed_criterion() -> None:
    (c,) = parse_criteria([{"field": "industry", "matcher": "equals", "value": "it"}], FIELDS)
    assert c == Criterion("industry", Matcher.EQUALS, CriterionKind.NICE, 1.0, "it")
    assert c.blank_is_value is False


@pytest.mark.parametrize(
    ("item", "path", "fragment"),
    [
        ({"field": "title", "matcher": "regex", "pattern": "(unclosed"}, "criteria.0.pattern", "does not compile"),
        ({"field": "title", "matcher": "regex", "pattern": "a" * 501}, "criteria.0.pattern", "at most 500"),
        ({"field": "title", "matcher": "regex", "pattern": ""}, "criteria.0.pattern", "non-empty"),
        ({"field": "budget", "matcher": "range", "min": 10, "max": 5}, "criteria.0.min", "greater than max"),
        ({"field": "budget", "matcher": "range"}, "criteria.0.min", "needs min, max or both"),
        ({"field": "budget", "matcher": "range", "min": "ten"}, "criteria.0.min", "finite number"),
        ({"field": "budget", "matcher": "range", "min": 1, "soft_margin": 0}, "criteria.0.soft_margin", "than 0"),
        ({"field": "budget", "matcher": "range", "min": 1, "unit": "years"}, "criteria.0.unit", "only for date"),
        ({"field": "founded", "matcher": "range", "min": 1, "unit": "weeks"}, "criteria.0.unit", "days, months"),
        ({"field": "industry", "matcher": "in", "values": ["retail", "bank"]}, "criteria.0.values", "'bank'"),
        ({"field": "industry", "matcher": "equals", "value": "bank"}, "criteria.0.value", "unknown option 'bank'"),
        ({"field": "channels", "matcher": "contains_all", "values": ["fax"]}, "criteria.0.values", "'fax'"),
        ({"field": "channels", "matcher": "contains_any", "values": []}, "criteria.0.values", "non-empty list"),
        ({"field": "industry", "matcher": "in", "values": "retail"}, "criteria.0.values", "non-empty list"),
        ({"field": "title", "matcher": "in", "values": ["ceo", ""]}, "criteria.0.values", "blank_is_value"),
        ({"field": "title", "matcher": "equals", "value": ""}, "criteria.0.value", "blank_is_value"),
        ({"field": "title", "matcher": "equals", "value": 5}, "criteria.0.value", "must be a string"),
        ({"field": "channels", "matcher": "contains_any", "values": [""], "blank_is_value": True},
         "criteria.0.values", "only for equals/in"),
        ({"field": "budget", "matcher": "equals", "value": "abc"}, "criteria.0.value", "must be a number"),
        ({"field": "budget", "matcher": "equals", "value": True}, "criteria.0.value", "must be a number"),
        ({"field": "vip", "matcher": "boolean", "value": "yes"}, "criteria.0.value", "true or false"),
        ({"field": "vip", "matcher": "boolean"}, "criteria.0.value", "true or false"),
        ({"field": "vip", "matcher": "boolean", "value": True, "blank_is_value": 1}, "criteria.0.blank_is_value",
         "true or false"),
        ({"field": "budget", "matcher": "range", "min": 1, "values": ["a"]}, "criteria.0.values", "not used by"),
        ({"field": "industry", "matcher": "in", "values": ["it"], "pattern": "x"}, "criteria.0.pattern", "not used"),
        ({"field": "industry", "matcher": "in", "values": ["it"], "colour": "red"}, "criteria.0.colour", "unknown key"),
        ({"field": "industry", "matcher": "like", "value": "it"}, "criteria.0.matcher", "must be one of"),
        ({"field": "industry", "matcher": "equals", "value": "it", "kind": "maybe"}, "criteria.0.kind", "one of"),
        ({"field": "nope", "matcher": "equals", "value": "it"}, "criteria.0.field", "unknown field 'nope'"),
        ({"matcher": "equals", "value": "it"}, "criteria.0.field", "required"),
    ],
)
def test_invalid_criteria_are_reported_at_their_path(item: dict[str, Any], path: str, fragment: str) -> None:
    errors = errors_of([item])
    assert path in errors, errors
    assert any(fragment in message for message in errors[path]), errors[path]


@pytest.mark.parametrize("weight", [0, -1, 100.5, "abc", True, None])
def test_weight_must_be_above_zero_and_at_most_100(weight: object) -> None:
    errors = errors_of([{"field": "vip", "matcher": "boolean", "value": True, "weight": weight}])
    assert list(errors) == ["criteria.0.weight"]


@pytest.mark.parametrize("weight", [0.5, 1, 100, "2.5"])
def test_valid_weights(weight: object) -> None:
    (c,) = parse_criteria([{"field": "vip", "matcher": "boolean", "value": True, "weight": weight}], FIELDS)
    assert c.weight == float(weight)  # type: ignore[arg-type]


def test_a_valid_regex_of_500_characters_is_accepted() -> None:
    (c,) = parse_criteria([{"field": "title", "matcher": "regex", "pattern": "a" * 500}], FIELDS)
    assert c.pattern == "a" * 500


def test_blank_may_be_listed_with_blank_is_value() -> None:
    (c,) = parse_criteria(
        [{"field": "industry", "matcher": "in", "values": ["retail", ""], "blank_is_value": True}], FIELDS
    )
    assert c.values == ("retail", "") and c.blank_is_value


def test_numbers_may_be_numeric_strings() -> None:
    (c,) = parse_criteria([{"field": "budget", "matcher": "range", "min": "1000.5", "max": 2000}], FIELDS)
    assert (c.min, c.max) == (1000.5, 2000.0)


def test_every_problem_is_listed_by_path_at_once() -> None:
    errors = errors_of(
        [
            {"field": "industry", "matcher": "in", "values": ["bank"]},
            "not an object",
            {"field": "budget", "matcher": "range", "min": 5, "max": 1, "weight": 0},
            {"field": "vip", "matcher": "boolean", "value": True},  # valid
            {"field": "title", "matcher": "regex", "pattern": "[", "extra": 1},
        ]
    )
    assert set(errors) == {
        "criteria.0.values",
        "criteria.1",
        "criteria.2.min",
        "criteria.2.weight",
        "criteria.4.pattern",
        "criteria.4.extra",
    }


def test_criteria_must_be_a_list_of_at_most_100() -> None:
    assert errors_of({"field": "vip"}) == {"criteria": ["must be a list of criteria"]}
    item = {"field": "vip", "matcher": "boolean", "value": True}
    assert len(parse_criteria([item] * 100, FIELDS)) == 100
    assert "criteria" in errors_of([item] * 101)


def test_the_same_field_may_appear_in_several_criteria() -> None:
    items = [{"field": "budget", "matcher": "range", "min": 1}, {"field": "budget", "matcher": "equals", "value": 7}]
    assert [c.field for c in parse_criteria(items, FIELDS)] == ["budget", "budget"]


def test_persona_spec_error_is_a_domain_error() -> None:
    with pytest.raises(DomainError) as caught:
        parse_criteria([{"field": "x"}], FIELDS)
    assert isinstance(caught.value, ValueError) and "criteria.0.field" in str(caught.value)


ROUND_TRIP = [
    {"field": "industry", "matcher": "in", "values": ["retail", "b2b"], "kind": "must", "weight": 3},
    {"field": "industry", "matcher": "equals", "value": "it", "kind": "disqualifier"},
    {"field": "budget", "matcher": "range", "min": 1000, "max": 5000.5, "soft_margin": 250, "weight": 0.5},
    {"field": "employees", "matcher": "equals", "value": 7},
    {"field": "founded", "matcher": "range", "max": 3, "unit": "months"},
    {"field": "founded", "matcher": "range", "min": 2},
    {"field": "channels", "matcher": "contains_all", "values": ["web", "email"]},
    {"field": "title", "matcher": "regex", "pattern": "^(ceo|cto)\\b"},
    {"field": "title", "matcher": "in", "values": ["ceo", ""], "blank_is_value": True},
    {"field": "vip", "matcher": "boolean", "value": False, "weight": 100},
]


@pytest.mark.parametrize("item", ROUND_TRIP, ids=lambda i: f"{i['field']}-{i['matcher']}")
def test_criterion_to_dict_round_trips_and_omits_defaults(item: dict[str, Any]) -> None:
    (c,) = parse_criteria([item], FIELDS)
    assert criterion_to_dict(c) == item
    assert parse_criteria([criterion_to_dict(c)], FIELDS) == (c,)


def test_defaults_are_omitted_from_the_dict() -> None:
    item = {"field": "vip", "matcher": "boolean", "value": True, "kind": "nice", "weight": 1, "blank_is_value": False}
    (c,) = parse_criteria([item], FIELDS)
    assert criterion_to_dict(c) == {"field": "vip", "matcher": "boolean", "value": True}


def test_thresholds_default_partial_and_round_trip() -> None:
    assert parse_thresholds(None) == GradeThresholds(80, 60, 40)
    assert parse_thresholds({"A": 90}) == GradeThresholds(90, 60, 40)
    t = parse_thresholds({"A": 100, "B": 2, "C": 1})
    assert parse_thresholds(thresholds_to_dict(t)) == t
    assert thresholds_to_dict(t) == {"A": 100, "B": 2, "C": 1}


@pytest.mark.parametrize(
    ("data", "paths"),
    [
        ({"A": 60, "B": 60}, {"thresholds"}),
        ({"A": 50, "B": 60, "C": 70}, {"thresholds"}),
        ({"A": 101}, {"thresholds.A"}),
        ({"C": 0}, {"thresholds.C"}),
        ({"B": "60"}, {"thresholds.B"}),
        ({"B": 60.0}, {"thresholds.B"}),
        ({"B": True}, {"thresholds.B"}),
        ({"D": 20, "A": 0}, {"thresholds.D", "thresholds.A"}),
        ([80, 60, 40], {"thresholds"}),
    ],
)
def test_invalid_thresholds(data: object, paths: set[str]) -> None:
    with pytest.raises(PersonaSpecError) as caught:
        parse_thresholds(data)  # type: ignore[arg-type]
    assert set(caught.value.errors) == paths


def test_grades_and_the_must_cap_follow_the_thresholds() -> None:
    t = GradeThresholds(80, 60, 40)
    assert [t.grade_for(s) for s in (100, 80, 79, 60, 59, 40, 39, 0)] == list("AABBCCDD")
    assert [t.cap_score(g) for g in (Grade.A, Grade.B, Grade.C, Grade.D)] == [100, 79, 59, 39]
