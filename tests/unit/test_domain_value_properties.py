"""Properties of value checking and conditions (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.conditions import (
    MAX_DEPTH,
    MAX_NODES,
    AllOf,
    AnyOf,
    Comparison,
    condition_to_dict,
    evaluate,
    parse_condition,
)
from service.domain.errors import ConditionError
from service.domain.fields import (
    DEFAULT_PLACEHOLDERS,
    Constraints,
    FieldSpec,
    FieldType,
    ValueState,
    check_value,
    normalize_for_storage,
)

# The same examples every run: a rare slow draw never turns CI red by chance.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)
OPTIONS = ("web", "phone", "mail", "1")
SPECS = {
    kind: FieldSpec(
        "f", "F", kind, Constraints(options=OPTIONS) if kind in ("enum", "multi_enum") else Constraints()
    )
    for kind in FieldType
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.decimals(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
CRM_STRINGS = st.sampled_from(
    [
        "12.5",
        "true",
        "a;b",
        "web;phone",
        "2024-05-01",
        "1714521600000",
        "n/a",
        " ",
        "ann@x.io",
        "+1 555 0100",
        "https://x.io",
        "1e3",
        "NaN",
    ]
) | st.text(max_size=20)


@PROPERTY
@given(st.sampled_from(list(FieldType)), JSON | CRM_STRINGS)
def test_check_value_never_raises_and_normalization_is_idempotent(kind: FieldType, raw: object) -> None:
    spec = SPECS[kind]
    result = check_value(spec, raw)
    if result.state is ValueState.FILLED:
        assert check_value(spec, result.value) == result
        assert normalize_for_storage(spec, raw) == result.value
    else:
        assert result.value is None
        assert (result.constraint is None) is (result.state is ValueState.MISSING)


@PROPERTY
@given(
    st.sampled_from(list(FieldType)),
    st.sampled_from(sorted(DEFAULT_PLACEHOLDERS)),
    st.text(" \t\n", max_size=3),
    st.text(" \t\n", max_size=3),
    st.booleans(),
)
def test_placeholders_in_any_case_with_any_padding_are_missing(
    kind: FieldType, placeholder: str, left: str, right: str, upper: bool
) -> None:
    raw = left + (placeholder.upper() if upper else placeholder) + right
    assert check_value(SPECS[kind], raw).state is ValueState.MISSING


@PROPERTY
@given(st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False, allow_infinity=False))
def test_numbers_and_money_round_trip_through_crm_strings(number: Decimal) -> None:
    for kind in (FieldType.NUMBER, FieldType.MONEY):
        value = check_value(SPECS[kind], str(number)).value
        assert isinstance(value, str)
        assert Decimal(value) == number
        assert "e" not in value.lower()
        assert value == "0" or not value.endswith(("0", ".")) or "." not in value


@PROPERTY
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integers_from_json_or_crm_strings_normalize_to_int(number: int) -> None:
    assert check_value(SPECS[FieldType.INTEGER], number).value == number
    assert check_value(SPECS[FieldType.INTEGER], str(number)).value == number
    assert check_value(SPECS[FieldType.INTEGER], f"{number}.5").state is ValueState.INVALID


@PROPERTY
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)))
def test_dates_from_iso_strings_and_epoch_milliseconds_agree(day: date) -> None:
    millis = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    expected = day.isoformat()
    for raw in (expected, str(millis), millis, f"{expected}T12:34:56Z", day):
        assert check_value(SPECS[FieldType.DATE], raw).value == expected


@PROPERTY
@given(st.lists(st.sampled_from(OPTIONS), max_size=6))
def test_multi_enum_lists_and_crm_strings_agree_and_dedupe_in_order(items: list[str]) -> None:
    expected = list(dict.fromkeys(items))
    for raw in (items, ";".join(items), " ; ".join(items)):
        result = check_value(SPECS[FieldType.MULTI_ENUM], raw)
        if expected:
            assert result.value == expected
        else:
            assert result.state is ValueState.MISSING


@PROPERTY
@given(st.booleans(), st.sampled_from(["{}", " {} ", "{}\n"]), st.booleans())
def test_boolean_words_in_any_case(flag: bool, template: str, digits: bool) -> None:
    word = ("1" if flag else "0") if digits else ("yes" if flag else "no")
    for raw in (template.format(word), template.format(word.upper()), template.format(str(flag).lower())):
        assert check_value(SPECS[FieldType.BOOLEAN], raw).value is flag


# --- conditions ---------------------------------------------------------------------------------

FIELDS = {
    "n": FieldSpec("n", "N", FieldType.NUMBER),
    "e": FieldSpec("e", "E", FieldType.ENUM, Constraints(options=OPTIONS)),
    "m": FieldSpec("m", "M", FieldType.MULTI_ENUM, Constraints(options=OPTIONS)),
    "t": FieldSpec("t", "T", FieldType.TEXT),
}
NUMBER_VALUES = st.none() | st.integers(-5, 5) | st.sampled_from(["", "n/a", "2.0", "x", "-1.5"])
ENUM_VALUES = st.none() | st.sampled_from([*OPTIONS, "", "zzz"])
MULTI_VALUES = (
    st.none() | st.lists(st.sampled_from(OPTIONS), max_size=3) | st.sampled_from(["web;mail", "zzz"])
)
VALUES = st.fixed_dictionaries(
    {"n": NUMBER_VALUES, "e": ENUM_VALUES, "m": MULTI_VALUES, "t": st.text(max_size=3)}
)
OPERAND = st.sampled_from(OPTIONS) | st.integers(-5, 5)
LEAF = st.one_of(
    st.builds(
        Comparison, st.sampled_from(["n", "e", "m", "t", "zz"]), st.sampled_from(["eq", "ne"]), OPERAND
    ),
    st.builds(
        Comparison,
        st.sampled_from(["n", "e", "m"]),
        st.sampled_from(["in", "not_in"]),
        st.lists(OPERAND, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(Comparison, st.just("n"), st.sampled_from(["gt", "gte", "lt", "lte"]), st.integers(-5, 5)),
    st.builds(Comparison, st.sampled_from(["n", "e", "m", "t", "zz"]), st.sampled_from(["filled", "empty"])),
)
TREES = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: AllOf(tuple(xs)))
        | st.lists(inner, max_size=3).map(lambda xs: AnyOf(tuple(xs)))
    ),
    max_leaves=8,
)


def depth_and_nodes(tree: AllOf | AnyOf | Comparison) -> tuple[int, int]:
    if isinstance(tree, Comparison):
        return 1, 1
    inner = [depth_and_nodes(item) for item in tree.items]
    return 1 + max((d for d, _ in inner), default=0), 1 + sum(n for _, n in inner)


@PROPERTY
@given(TREES)
def test_conditions_round_trip_through_their_json_shape(tree: AllOf | AnyOf | Comparison) -> None:
    depth, nodes = depth_and_nodes(tree)
    if depth > MAX_DEPTH or nodes > MAX_NODES:
        with pytest.raises(ConditionError):
            parse_condition(condition_to_dict(tree))
    else:
        assert parse_condition(condition_to_dict(tree)) == tree


@PROPERTY
@given(TREES, VALUES)
def test_groups_are_all_and_any_of_their_items(
    tree: AllOf | AnyOf | Comparison, values: dict[str, object]
) -> None:
    if isinstance(tree, Comparison):
        tree = AllOf((tree,))
    results = [evaluate(item, values, FIELDS) for item in tree.items]
    expected = all(results) if isinstance(tree, AllOf) else any(results)
    assert evaluate(tree, values, FIELDS) is expected


@PROPERTY
@given(st.sampled_from(["n", "e", "m"]), OPERAND, VALUES)
def test_negated_operators_are_exact_complements_on_filled_fields(
    field: str, operand: object, values: dict[str, object]
) -> None:
    filled = evaluate(Comparison(field, "filled"), values, FIELDS)
    assert evaluate(Comparison(field, "empty"), values, FIELDS) is not filled
    for positive, negative, value in (("eq", "ne", operand), ("in", "not_in", (operand,))):
        yes = evaluate(Comparison(field, positive, value), values, FIELDS)
        no = evaluate(Comparison(field, negative, value), values, FIELDS)
        assert (yes != no) is filled
        assert (yes and no) is False


@PROPERTY
@given(st.integers(-5, 5), NUMBER_VALUES)
def test_ordering_operators_are_complementary_on_filled_numbers(bound: int, raw: object) -> None:
    values = {"n": raw}
    filled = evaluate(Comparison("n", "filled"), values, FIELDS)
    gt, lte = (evaluate(Comparison("n", op, bound), values, FIELDS) for op in ("gt", "lte"))
    lt, gte = (evaluate(Comparison("n", op, bound), values, FIELDS) for op in ("lt", "gte"))
    assert (gt != lte) is filled
    assert (lt != gte) is filled
