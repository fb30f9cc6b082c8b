"""validate_spec and the constraints <-> dict conversion."""

# Russian labels and messages are intentional: Cyrillic letters are not Latin confusables.

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from service.domain.errors import DomainError, FieldSpecError
from service.domain.fields import (
    Constraints,
    FieldSpec,
    FieldType,
    constraints_from_dict,
    constraints_to_dict,
    validate_spec,
)

NUMERIC = [FieldType.NUMBER, FieldType.INTEGER, FieldType.MONEY]
TEXT_LIKE = [FieldType.TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL]
OPTION_TYPES = [FieldType.ENUM, FieldType.MULTI_ENUM]
OTHER = [FieldType.BOOLEAN, FieldType.DATE]


def errors_of(spec: FieldSpec) -> dict[str, list[str]]:
    with pytest.raises(FieldSpecError) as caught:
        validate_spec(spec)
    assert isinstance(caught.value, DomainError)
    assert isinstance(caught.value, ValueError)
    return caught.value.errors


def make(kind: FieldType, key: str = "budget", **constraints: Any) -> FieldSpec:
    return with_constraints(kind, constraints, key)


def with_constraints(kind: FieldType, constraints: dict[str, Any], key: str = "budget") -> FieldSpec:
    if kind in OPTION_TYPES and "options" not in constraints:
        constraints = {**constraints, "options": ("a", "b")}
    return FieldSpec(key, "Budget", kind, Constraints(**constraints))


@pytest.mark.parametrize("kind", list(FieldType))
def test_a_plain_field_of_every_type_is_valid(kind: FieldType) -> None:
    validate_spec(make(kind))


@pytest.mark.parametrize("key", ["a", "budget_2024", "x" * 64, "a_b_c"])
def test_keys_are_lowercase_identifiers_up_to_64_chars(key: str) -> None:
    validate_spec(make(FieldType.TEXT, key=key))


@pytest.mark.parametrize("key", ["", "Budget", "1budget", "_budget", "bud-get", "x" * 65, "бюджет", "a b"])
def test_a_bad_key_is_rejected(key: str) -> None:
    assert "key" in errors_of(make(FieldType.TEXT, key=key))


def test_a_blank_label_is_rejected() -> None:
    assert "label" in errors_of(FieldSpec("k", "  ", FieldType.TEXT))
    assert "label_ru" in errors_of(FieldSpec("k", "K", FieldType.TEXT, label_ru=""))


def test_an_unknown_type_is_rejected() -> None:
    assert "type" in errors_of(FieldSpec("k", "K", "colour"))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", NUMERIC)
def test_min_and_max_are_allowed_for_numeric_types(kind: FieldType) -> None:
    validate_spec(make(kind, min=Decimal(1), max=Decimal(1)))


@pytest.mark.parametrize("kind", NUMERIC)
def test_min_greater_than_max_is_rejected(kind: FieldType) -> None:
    assert "constraints.min" in errors_of(make(kind, min=Decimal(2), max=Decimal(1)))


@pytest.mark.parametrize("kind", NUMERIC)
def test_non_finite_bounds_are_rejected(kind: FieldType) -> None:
    assert "constraints.max" in errors_of(make(kind, max=Decimal("Infinity")))


@pytest.mark.parametrize("kind", TEXT_LIKE + OPTION_TYPES + OTHER)
@pytest.mark.parametrize("name", ["min", "max"])
def test_min_and_max_are_rejected_for_non_numeric_types(kind: FieldType, name: str) -> None:
    assert f"constraints.{name}" in errors_of(with_constraints(kind, {name: Decimal(1)}))


@pytest.mark.parametrize("kind", TEXT_LIKE)
def test_length_constraints_and_regex_are_allowed_for_text_like_types(kind: FieldType) -> None:
    validate_spec(make(kind, min_length=0, max_length=10, regex=".*"))


@pytest.mark.parametrize("kind", NUMERIC + OPTION_TYPES + OTHER)
@pytest.mark.parametrize(("name", "value"), [("min_length", 1), ("max_length", 5), ("regex", ".*")])
def test_length_constraints_and_regex_are_rejected_for_other_types(
    kind: FieldType, name: str, value: object
) -> None:
    assert f"constraints.{name}" in errors_of(with_constraints(kind, {name: value}))


@pytest.mark.parametrize(
    ("constraints", "path"),
    [
        ({"min_length": 5, "max_length": 4}, "constraints.min_length"),
        ({"min_length": -1}, "constraints.min_length"),
        ({"max_length": True}, "constraints.max_length"),
        ({"regex": "("}, "constraints.regex"),
        ({"regex": "[a-"}, "constraints.regex"),
    ],
)
def test_inconsistent_lengths_and_uncompilable_regexes_are_rejected(
    constraints: dict[str, Any], path: str
) -> None:
    assert path in errors_of(with_constraints(FieldType.TEXT, constraints))


@pytest.mark.parametrize("kind", OPTION_TYPES)
@pytest.mark.parametrize(
    ("options", "path"),
    [
        ((), "constraints.options"),
        (("a", "a"), "constraints.options[1]"),
        (("a", ""), "constraints.options[1]"),
        ((" a",), "constraints.options[0]"),
        (("a", 5), "constraints.options[1]"),
    ],
)
def test_enum_options_are_required_non_empty_trimmed_and_unique(
    kind: FieldType, options: tuple[object, ...], path: str
) -> None:
    assert path in errors_of(make(kind, options=options))


def test_multi_enum_options_cannot_contain_the_separator() -> None:
    assert "constraints.options[0]" in errors_of(make(FieldType.MULTI_ENUM, options=("a;b",)))
    validate_spec(make(FieldType.ENUM, options=("a;b",)))


@pytest.mark.parametrize("kind", NUMERIC + TEXT_LIKE + OTHER)
def test_options_are_rejected_for_non_enum_types(kind: FieldType) -> None:
    assert "constraints.options" in errors_of(make(kind, options=("a",)))


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of(FieldSpec("Bad", "", FieldType.BOOLEAN, Constraints(min=Decimal(1), regex="(")))
    assert {"key", "label", "constraints.min", "constraints.regex"} <= set(errors)


def test_domain_error_str_lists_paths_and_messages() -> None:
    error = FieldSpecError("invalid field", {"key": ["bad"]})
    assert str(error) == "invalid field (key: bad)"
    assert error.message == "invalid field"
    assert str(FieldSpecError("plain")) == "plain"


def test_constraints_round_trip_through_dicts() -> None:
    c = Constraints(min=Decimal("0.5"), max=Decimal(100), min_length=None, regex=None, options=())
    assert constraints_to_dict(c) == {"min": 0.5, "max": 100}
    assert constraints_from_dict(constraints_to_dict(c)) == c
    full = {"min_length": 1, "max_length": 5, "regex": "[a-z]+", "options": ["a", "b"]}
    assert constraints_to_dict(constraints_from_dict(full)) == full
    assert constraints_from_dict(None) == Constraints()
    assert constraints_from_dict({"min": "12.5"}).min == Decimal("12.5")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"minimum": 1}, "constraints.minimum"),
        ({"min": "abc"}, "constraints.min"),
        ({"max": True}, "constraints.max"),
        ({"min_length": 1.5}, "constraints.min_length"),
        ({"regex": 5}, "constraints.regex"),
        ({"options": "a,b"}, "constraints.options"),
        ({"options": [1, 2]}, "constraints.options"),
    ],
)
def test_constraints_from_dict_rejects_bad_input_by_path(data: dict[str, object], path: str) -> None:
    with pytest.raises(FieldSpecError) as caught:
        constraints_from_dict(data)
    assert path in caught.value.errors


def test_constraints_from_dict_rejects_non_objects() -> None:
    with pytest.raises(FieldSpecError):
        constraints_from_dict(["min"])  # type: ignore[arg-type]


def test_label_for_prefers_the_russian_label_for_russian() -> None:
    field = FieldSpec("industry", "Industry", FieldType.TEXT, label_ru="Отрасль")
    assert field.label_for("ru") == "Отрасль"
    assert field.label_for("ru-RU") == "Отрасль"
    assert field.label_for("en") == "Industry"
    assert field.label_for("de") == "Industry"
    assert FieldSpec("industry", "Industry", FieldType.TEXT).label_for("ru") == "Industry"
