"""required_if conditions: parsing (with error paths), rendering and evaluation semantics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.domain.conditions import (
    OPERATORS,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    condition_to_dict,
    evaluate,
    parse_condition,
    referenced_fields,
    validate_condition,
)
from service.domain.errors import ConditionError
from service.domain.fields import Constraints, FieldSpec, FieldType, normalize_placeholders

FIELDS = {
    "industry": FieldSpec(
        "industry", "Industry", FieldType.ENUM, Constraints(options=("retail", "b2b", "it"))
    ),
    "channels": FieldSpec(
        "channels", "Channels", FieldType.MULTI_ENUM, Constraints(options=("web", "phone", "mail"))
    ),
    "budget": FieldSpec("budget", "Budget", FieldType.MONEY),
    "seats": FieldSpec("seats", "Seats", FieldType.INTEGER),
    "score": FieldSpec("score", "Score", FieldType.NUMBER),
    "city": FieldSpec("city", "City", FieldType.TEXT),
    "vip": FieldSpec("vip", "VIP", FieldType.BOOLEAN),
    "deadline": FieldSpec("deadline", "Deadline", FieldType.DATE),
    "email": FieldSpec("email", "Email", FieldType.EMAIL),
}


def parse_errors(data: object, known: set[str] | None = None) -> dict[str, list[str]]:
    with pytest.raises(ConditionError) as caught:
        parse_condition(data, known)
    return caught.value.errors


def holds(data: dict[str, object], values: dict[str, object]) -> bool:
    return evaluate(parse_condition(data, FIELDS), values, FIELDS)


# --- parsing ------------------------------------------------------------------------------------


def test_a_comparison_parses_into_a_frozen_dataclass() -> None:
    assert parse_condition({"field": "industry", "op": "eq", "value": "retail"}) == Comparison(
        "industry", "eq", "retail"
    )


def test_groups_parse_recursively_and_lists_become_tuples() -> None:
    parsed = parse_condition(
        {
            "all": [
                {"field": "budget", "op": "gte", "value": 1000},
                {"any": [{"field": "city", "op": "filled"}, {"field": "vip", "op": "in", "value": [True]}]},
            ]
        }
    )
    assert parsed == AllOf(
        (
            Comparison("budget", "gte", 1000),
            AnyOf((Comparison("city", "filled"), Comparison("vip", "in", (True,)))),
        )
    )


@pytest.mark.parametrize(
    "data",
    [
        {"field": "industry", "op": "eq", "value": "retail"},
        {"field": "budget", "op": "lt", "value": 10.5},
        {"field": "deadline", "op": "gte", "value": "2024-01-31"},
        {"field": "city", "op": "empty"},
        {"all": []},
        {
            "any": [
                {"field": "seats", "op": "not_in", "value": [1, 2]},
                {"all": [{"field": "vip", "op": "ne", "value": False}]},
            ]
        },
    ],
)
def test_condition_to_dict_is_the_inverse_of_parse_condition(data: dict[str, object]) -> None:
    assert condition_to_dict(parse_condition(data)) == data
    assert parse_condition(condition_to_dict(parse_condition(data))) == parse_condition(data)


def test_filled_and_empty_accept_an_explicit_null_value() -> None:
    assert parse_condition({"field": "city", "op": "filled", "value": None}) == Comparison("city", "filled")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ("industry = retail", "required_if"),
        (["all"], "required_if"),
        ({}, "required_if"),
        (
            {"all": [{"field": "a", "op": "eq", "value": 1}, {"field": "b", "op": "like", "value": 1}]},
            "required_if.all[1].op",
        ),
        ({"all": {"field": "a"}}, "required_if.all"),
        ({"all": [], "any": []}, "required_if"),
        ({"all": [], "note": "x"}, "required_if.note"),
        ({"any": [{"field": "a", "op": "eq", "value": 1, "hint": 2}]}, "required_if.any[0].hint"),
        ({"field": "Industry", "op": "eq", "value": 1}, "required_if.field"),
        ({"field": 7, "op": "eq", "value": 1}, "required_if.field"),
        ({"op": "filled"}, "required_if.field"),
        ({"field": "a", "value": 1}, "required_if.op"),
        ({"field": "a", "op": "eq"}, "required_if.value"),
        ({"field": "a", "op": "eq", "value": None}, "required_if.value"),
        ({"field": "a", "op": "ne", "value": [1]}, "required_if.value"),
        ({"field": "a", "op": "eq", "value": {"x": 1}}, "required_if.value"),
        ({"field": "a", "op": "in", "value": "retail"}, "required_if.value"),
        ({"field": "a", "op": "not_in", "value": []}, "required_if.value"),
        ({"field": "a", "op": "in", "value": ["x", {"y": 1}]}, "required_if.value[1]"),
        ({"field": "a", "op": "in", "value": list(range(201))}, "required_if.value"),
        ({"field": "a", "op": "filled", "value": True}, "required_if.value"),
        ({"field": "a", "op": "empty", "value": ""}, "required_if.value"),
        ({"field": "a", "op": "gt", "value": "ten"}, "required_if.value"),
        ({"field": "a", "op": "gte", "value": True}, "required_if.value"),
        ({"field": "a", "op": "lt", "value": "2024-02-30"}, "required_if.value"),
        ({"field": "a", "op": "lte", "value": float("nan")}, "required_if.value"),
        ({"field": "a", "op": "lte", "value": None}, "required_if.value"),
    ],
)
def test_malformed_conditions_are_rejected_with_the_failing_path(data: object, path: str) -> None:
    assert path in parse_errors(data)


def test_every_error_is_reported_at_once() -> None:
    errors = parse_errors({"any": [{"field": "A", "op": "eq", "value": 1}, {"field": "b", "op": "zz"}, 5]})
    assert set(errors) == {"required_if.any[0].field", "required_if.any[1].op", "required_if.any[2]"}


def test_unknown_fields_are_rejected_only_when_known_fields_are_given() -> None:
    data = {"all": [{"field": "industry", "op": "filled"}, {"field": "colour", "op": "filled"}]}
    assert parse_condition(data) == AllOf((Comparison("industry", "filled"), Comparison("colour", "filled")))
    errors = parse_errors(data, {"industry"})
    assert list(errors) == ["required_if.all[1].field"]
    assert "colour" in errors["required_if.all[1].field"][0]


def test_a_custom_path_prefixes_error_keys() -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition({"field": "a", "op": "??"}, path="requirements[2].required_if")
    assert list(caught.value.errors) == ["requirements[2].required_if.op"]


def nested(levels: int) -> dict[str, object]:
    node: dict[str, object] = {"field": "city", "op": "filled"}
    for _ in range(levels - 1):
        node = {"all": [node]}
    return node


def test_nesting_is_limited_to_eight_levels() -> None:
    parse_condition(nested(8))
    errors = parse_errors(nested(9))
    assert any("deep" in m for messages in errors.values() for m in messages)


def test_a_condition_has_at_most_fifty_nodes() -> None:
    parse_condition({"any": [{"field": "city", "op": "filled"}] * 49})
    assert "required_if" in parse_errors({"any": [{"field": "city", "op": "filled"}] * 50})


def test_operators_are_exactly_the_documented_ten() -> None:
    assert OPERATORS == ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "filled", "empty")


def test_referenced_fields_collects_every_field_in_the_tree() -> None:
    c = parse_condition(
        {
            "all": [
                {"field": "a", "op": "filled"},
                {"any": [{"field": "b", "op": "empty"}, {"field": "a", "op": "eq", "value": 1}]},
            ]
        }
    )
    assert referenced_fields(c) == frozenset({"a", "b"})
    assert referenced_fields(AllOf(())) == frozenset()


# --- validation against field types -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"field": "industry", "op": "in", "value": ["retail", "it"]},
        {"field": "channels", "op": "eq", "value": "web"},
        {"field": "budget", "op": "gt", "value": 100},
        {"field": "budget", "op": "eq", "value": "100.00"},
        {"field": "deadline", "op": "lt", "value": "2025-01-01"},
        {"field": "vip", "op": "eq", "value": "yes"},
        {"field": "city", "op": "empty"},
    ],
)
def test_validate_condition_accepts_operands_that_fit_the_field(data: dict[str, object]) -> None:
    validate_condition(parse_condition(data), FIELDS)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"field": "colour", "op": "filled"}, "required_if.field"),
        ({"field": "industry", "op": "eq", "value": "bank"}, "required_if.value"),
        ({"field": "industry", "op": "in", "value": ["it", "bank"]}, "required_if.value[1]"),
        ({"field": "channels", "op": "eq", "value": "fax"}, "required_if.value"),
        ({"field": "city", "op": "gt", "value": 3}, "required_if.op"),
        ({"field": "budget", "op": "gt", "value": "2024-01-01"}, "required_if.value"),
        ({"field": "deadline", "op": "gt", "value": 5}, "required_if.value"),
        ({"field": "vip", "op": "eq", "value": "perhaps"}, "required_if.value"),
        (
            {"all": [{"field": "city", "op": "filled"}, {"field": "seats", "op": "eq", "value": 1.5}]},
            "required_if.all[1].value",
        ),
    ],
)
def test_validate_condition_flags_operands_that_can_never_match(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConditionError) as caught:
        validate_condition(parse_condition(data), FIELDS)
    assert path in caught.value.errors


# --- evaluation ---------------------------------------------------------------------------------


def test_empty_all_is_true_and_empty_any_is_false() -> None:
    assert evaluate(AllOf(()), {}, FIELDS) is True
    assert evaluate(AnyOf(()), {}, FIELDS) is False


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"city": "Kyiv", "vip": True}, True),
        ({"city": "Kyiv", "vip": False}, False),
        ({"city": "", "vip": True}, False),
    ],
)
def test_all_requires_every_item_and_any_requires_one(values: dict[str, object], expected: bool) -> None:
    both: Condition = AllOf((Comparison("city", "filled"), Comparison("vip", "eq", True)))
    assert evaluate(both, values, FIELDS) is expected
    either: Condition = AnyOf((Comparison("city", "empty"), Comparison("vip", "eq", True)))
    assert evaluate(either, values, FIELDS) is (values["city"] == "" or values["vip"] is True)


@pytest.mark.parametrize(
    ("raw", "filled"), [("Kyiv", True), ("", False), ("n/a", False), (None, False), ("  ", False)]
)
def test_filled_and_empty_follow_check_value(raw: object, filled: bool) -> None:
    assert holds({"field": "city", "op": "filled"}, {"city": raw}) is filled
    assert holds({"field": "city", "op": "empty"}, {"city": raw}) is not filled


def test_an_invalid_value_is_empty_not_filled() -> None:
    assert holds({"field": "budget", "op": "empty"}, {"budget": "lots"}) is True
    assert holds({"field": "budget", "op": "filled"}, {"budget": "lots"}) is False


@pytest.mark.parametrize("op", ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("raw", [None, "", "n/a", "lots"])
def test_an_unknown_value_never_matches_any_comparison(op: str, raw: object) -> None:
    value: object = [1] if op in ("in", "not_in") else 1
    assert holds({"field": "budget", "op": op, "value": value}, {"budget": raw}) is False


def test_comparisons_use_normalized_values() -> None:
    assert holds({"field": "budget", "op": "eq", "value": 12}, {"budget": "12.00"})
    assert holds({"field": "budget", "op": "eq", "value": "12"}, {"budget": 12.0})
    assert holds({"field": "seats", "op": "in", "value": [5, 6]}, {"seats": "6"})
    assert holds({"field": "vip", "op": "eq", "value": True}, {"vip": "yes"})
    assert holds({"field": "vip", "op": "eq", "value": "false"}, {"vip": False})
    assert holds({"field": "deadline", "op": "eq", "value": "2024-05-01"}, {"deadline": "1714521600000"})
    assert holds({"field": "city", "op": "eq", "value": "Kyiv"}, {"city": "  Kyiv "})


def test_text_and_enum_comparison_is_case_sensitive() -> None:
    assert not holds({"field": "city", "op": "eq", "value": "kyiv"}, {"city": "Kyiv"})
    assert not holds({"field": "industry", "op": "eq", "value": "Retail"}, {"industry": "retail"})


@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "retail", True),
        ("eq", "it", False),
        ("ne", "retail", False),
        ("ne", "it", True),
        ("in", ["it", "retail"], True),
        ("in", ["it", "b2b"], False),
        ("not_in", ["it", "retail"], False),
        ("not_in", ["it", "b2b"], True),
        ("eq", "bank", False),
        ("ne", "bank", True),
    ],
)
def test_equality_and_membership_on_an_enum(op: str, operand: object, expected: bool) -> None:
    assert holds({"field": "industry", "op": op, "value": operand}, {"industry": "retail"}) is expected


@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("eq", "web", True),
        ("eq", "mail", False),
        ("ne", "web", False),
        ("ne", "mail", True),
        ("in", ["mail", "phone"], True),
        ("in", ["mail"], False),
        ("not_in", ["mail", "phone"], False),
        ("not_in", ["mail"], True),
    ],
)
def test_multi_enum_eq_means_contains_and_in_means_intersects(
    op: str, operand: object, expected: bool
) -> None:
    assert holds({"field": "channels", "op": op, "value": operand}, {"channels": "web;phone"}) is expected
    assert (
        holds({"field": "channels", "op": op, "value": operand}, {"channels": ["phone", "web"]}) is expected
    )


@pytest.mark.parametrize("op", ["eq", "ne", "in", "not_in"])
def test_multi_enum_comparisons_are_false_when_nothing_is_chosen(op: str) -> None:
    value: object = ["web"] if op in ("in", "not_in") else "web"
    assert holds({"field": "channels", "op": op, "value": value}, {"channels": []}) is False


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("gt", [False, False, True]),
        ("gte", [False, True, True]),
        ("lt", [True, False, False]),
        ("lte", [True, True, False]),
    ],
)
def test_ordering_operators_on_numbers_and_dates(op: str, expected: list[bool]) -> None:
    for raw, want in zip(["999.99", "1000", "1000.01"], expected, strict=True):
        assert holds({"field": "budget", "op": op, "value": 1000}, {"budget": raw}) is want
        assert holds({"field": "score", "op": op, "value": 1000.0}, {"score": raw}) is want
    for raw, want in zip(["2024-04-30", "2024-05-01T09:00:00Z", "2024-05-02"], expected, strict=True):
        assert holds({"field": "deadline", "op": op, "value": "2024-05-01"}, {"deadline": raw}) is want


@pytest.mark.parametrize(
    ("field", "value", "operand"),
    [
        ("city", "Kyiv", 3),
        ("industry", "retail", 1),
        ("vip", True, 0),
        ("budget", "5", "2024-01-01"),
        ("deadline", "2024-05-01", 5),
    ],
)
def test_ordering_operators_are_false_on_incomparable_fields_or_operands(
    field: str, value: object, operand: object
) -> None:
    for op in ("gt", "gte", "lt", "lte"):
        assert evaluate(Comparison(field, op, operand), {field: value}, FIELDS) is False


def test_decimal_operands_are_accepted() -> None:
    assert evaluate(Comparison("budget", "gt", Decimal("0.5")), {"budget": "0.51"}, FIELDS)


def test_a_comparison_on_an_unconfigured_field_is_false_except_empty() -> None:
    for op in ("eq", "ne", "in", "not_in", "gt", "filled"):
        assert (
            evaluate(Comparison("colour", op, ("red",) if "in" in op else "red"), {"colour": "red"}, FIELDS)
            is False
        )
    assert evaluate(Comparison("colour", "empty"), {"colour": "red"}, FIELDS) is True


def test_custom_placeholders_apply_to_evaluation() -> None:
    c = Comparison("city", "filled")
    assert evaluate(c, {"city": "none"}, FIELDS) is True
    assert evaluate(c, {"city": "none"}, FIELDS, normalize_placeholders(["None"])) is False


def test_ne_is_the_negation_of_eq_only_when_the_field_is_filled() -> None:
    for raw in ("retail", "it", "", None):
        eq = holds({"field": "industry", "op": "eq", "value": "retail"}, {"industry": raw})
        ne = holds({"field": "industry", "op": "ne", "value": "retail"}, {"industry": raw})
        assert (eq != ne) is bool(raw)
