"""check_value / normalize_for_storage: every field type, every constraint, both input sources."""

# Russian labels and messages are intentional: Cyrillic letters are not Latin confusables.

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from service.domain.fields import (
    DEFAULT_PLACEHOLDERS,
    Constraints,
    FieldSpec,
    FieldType,
    ValueCheck,
    ValueState,
    check_value,
    normalize_for_storage,
    normalize_placeholders,
)

FILLED, MISSING, INVALID = ValueState.FILLED, ValueState.MISSING, ValueState.INVALID


def spec(kind: FieldType, **constraints: object) -> FieldSpec:
    return FieldSpec("f", "F", kind, Constraints(**constraints))  # type: ignore[arg-type]


def filled(kind: FieldType, raw: object, **constraints: object) -> object:
    result = check_value(spec(kind, **constraints), raw)
    assert result.state is FILLED, result
    return result.value


def invalid(kind: FieldType, raw: object, **constraints: object) -> str | None:
    result = check_value(spec(kind, **constraints), raw)
    assert result.state is INVALID, result
    assert result.value is None
    return result.constraint


ALL_TYPES = list(FieldType)
OPTIONS = ("retail", "b2b", "other")


def any_spec(kind: FieldType) -> FieldSpec:
    return spec(kind, options=OPTIONS) if kind in (FieldType.ENUM, FieldType.MULTI_ENUM) else spec(kind)


@pytest.mark.parametrize("kind", ALL_TYPES)
@pytest.mark.parametrize(
    "raw", [None, "", "   ", "\t\n", *sorted(DEFAULT_PLACEHOLDERS), " N/A ", "TBD", "Unknown"]
)
def test_absent_blank_and_placeholder_values_are_missing_for_every_type(kind: FieldType, raw: object) -> None:
    assert check_value(any_spec(kind), raw) == ValueCheck(MISSING)


@pytest.mark.parametrize("raw", [[], (), ";", " ; ; ", ["", " "], ["n/a"], "n/a;tbd"])
def test_an_empty_multi_enum_is_missing(raw: object) -> None:
    assert check_value(spec(FieldType.MULTI_ENUM, options=OPTIONS), raw).state is MISSING


def test_custom_placeholders_replace_the_defaults_and_are_compared_case_insensitively() -> None:
    placeholders = normalize_placeholders([" Нет данных ", "XXX", "  "])
    assert placeholders == frozenset({"нет данных", "xxx"})
    assert check_value(spec(FieldType.TEXT), "нет ДАННЫХ", placeholders).state is MISSING
    assert check_value(spec(FieldType.TEXT), "xxx", placeholders).state is MISSING
    assert check_value(spec(FieldType.TEXT), "n/a", placeholders).value == "n/a"


def test_a_numeric_placeholder_makes_json_numbers_missing_too() -> None:
    placeholders = normalize_placeholders(["0"])
    assert check_value(spec(FieldType.MONEY), 0, placeholders).state is MISSING
    assert check_value(spec(FieldType.MONEY), "0", placeholders).state is MISSING
    assert check_value(spec(FieldType.MONEY), 0.5, placeholders).state is FILLED


def test_a_placeholder_wins_over_an_identical_enum_option() -> None:
    assert check_value(spec(FieldType.ENUM, options=("unknown", "b2b")), "unknown").state is MISSING


# --- text-like ----------------------------------------------------------------------------------


def test_text_is_stripped() -> None:
    assert filled(FieldType.TEXT, "  Acme Corp \n") == "Acme Corp"


def test_text_accepts_json_numbers_as_their_text() -> None:
    assert filled(FieldType.TEXT, 42) == "42"


@pytest.mark.parametrize("raw", [True, False, ["a"], {"a": 1}, object()])
def test_text_rejects_booleans_and_containers(raw: object) -> None:
    assert invalid(FieldType.TEXT, raw) == "type"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ab", "min_length"), ("abc", None), ("abcdef", None), ("abcdefg", "max_length")],
)
def test_text_length_is_bounded_by_min_and_max_length(raw: str, expected: str | None) -> None:
    result = check_value(spec(FieldType.TEXT, min_length=3, max_length=6), f"  {raw}  ")
    assert result.constraint == expected
    assert result.state is (FILLED if expected is None else INVALID)


def test_regex_must_match_the_whole_value() -> None:
    assert filled(FieldType.TEXT, "AB-12", regex=r"[A-Z]{2}-\d+") == "AB-12"
    assert invalid(FieldType.TEXT, "xAB-12", regex=r"[A-Z]{2}-\d+") == "regex"
    assert invalid(FieldType.TEXT, "AB-12x", regex=r"[A-Z]{2}-\d+") == "regex"


def test_input_over_ten_thousand_chars_is_never_handed_to_a_regex() -> None:
    assert filled(FieldType.TEXT, "a" * 10_000, regex="a+") == "a" * 10_000
    assert invalid(FieldType.TEXT, "a" * 10_001, regex="a+") == "max_length"
    assert filled(FieldType.TEXT, "a" * 10_001) == "a" * 10_001


@pytest.mark.parametrize("raw", ["ann@example.com", " a.b+c@sub.example.co.uk ", "ivan@пример.рф"])
def test_email_accepts_addresses(raw: str) -> None:
    assert filled(FieldType.EMAIL, raw) == raw.strip()


@pytest.mark.parametrize(
    "raw", ["ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@@b.com", 5]
)
def test_email_rejects_non_addresses(raw: object) -> None:
    assert invalid(FieldType.EMAIL, raw) == "type"


def test_email_length_constraints_apply() -> None:
    assert invalid(FieldType.EMAIL, "a@b.co", min_length=10) == "min_length"
    assert invalid(FieldType.EMAIL, "ann@corp.com", regex=r".*@example\.com") == "regex"


@pytest.mark.parametrize("raw", ["+7 (495) 123-45-67", "12345", "555.123.4567", "+1 212 555 0100", "1" * 20])
def test_phone_accepts_digits_with_separators(raw: str) -> None:
    assert filled(FieldType.PHONE, raw) == raw


@pytest.mark.parametrize("raw", ["1234", "1" * 21, "call me", "+7 495 ext 1", "12+345678", "١٢٣٤٥٦"])
def test_phone_rejects_too_few_or_many_digits_and_other_characters(raw: str) -> None:
    assert invalid(FieldType.PHONE, raw) == "type"


@pytest.mark.parametrize(
    "raw", ["https://acme.com", "http://acme.com/path?q=1", "HTTPS://x.io", "https://10.0.0.1:8080"]
)
def test_url_accepts_http_and_https_with_a_host(raw: str) -> None:
    assert filled(FieldType.URL, raw) == raw


@pytest.mark.parametrize(
    "raw", ["acme.com", "ftp://acme.com", "https://", "https:///path", "https://a b.com", "http://[::1"]
)
def test_url_rejects_other_schemes_missing_hosts_and_spaces(raw: str) -> None:
    assert invalid(FieldType.URL, raw) == "type"


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", "12.5"),
        ("12.50", "12.5"),
        (" 100 ", "100"),
        ("1e3", "1000"),
        ("-0.0", "0"),
        ("+7", "7"),
        (".5", "0.5"),
        (12, "12"),
        (12.5, "12.5"),
        (0.1, "0.1"),
        (Decimal("3.140"), "3.14"),
    ],
)
def test_number_and_money_normalize_to_plain_decimal_strings(raw: object, expected: str) -> None:
    assert filled(FieldType.NUMBER, raw) == expected
    assert filled(FieldType.MONEY, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        True,
        False,
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        float("nan"),
        float("inf"),
        "1,5",
        "1_000",
        "12 500",
        "abc",
        "١٢",
        "1e101",
        "9" * 101,
        ["1"],
        Decimal("NaN"),
    ],
)
def test_number_rejects_booleans_non_finite_and_non_numeric_values(raw: object) -> None:
    assert invalid(FieldType.NUMBER, raw) == "type"
    assert invalid(FieldType.MONEY, raw) == "type"
    assert invalid(FieldType.INTEGER, raw) == "type"


@pytest.mark.parametrize(
    ("raw", "expected"), [("42", 42), (42, 42), ("42.0", 42), (42.0, 42), ("-3", -3), ("1e2", 100)]
)
def test_integer_normalizes_to_int(raw: object, expected: int) -> None:
    value = filled(FieldType.INTEGER, raw)
    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize("raw", ["42.5", 42.5, "0.1"])
def test_integer_rejects_fractional_values(raw: object) -> None:
    assert invalid(FieldType.INTEGER, raw) == "type"


@pytest.mark.parametrize("kind", [FieldType.NUMBER, FieldType.INTEGER, FieldType.MONEY])
@pytest.mark.parametrize(
    ("raw", "expected"), [("9", "min"), ("10", None), ("20", None), ("21", "max"), (21, "max")]
)
def test_numeric_values_are_bounded_by_min_and_max_inclusive(
    kind: FieldType, raw: object, expected: str | None
) -> None:
    result = check_value(spec(kind, min=Decimal(10), max=Decimal(20)), raw)
    assert result.constraint == expected
    assert result.state is (FILLED if expected is None else INVALID)


# --- booleans -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        (" Yes ", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
    ],
)
def test_boolean_accepts_words_digits_and_bools(raw: object, expected: bool) -> None:
    assert filled(FieldType.BOOLEAN, raw) is expected


def test_false_is_a_filled_boolean() -> None:
    assert check_value(spec(FieldType.BOOLEAN), False) == ValueCheck(FILLED, False)
    assert check_value(spec(FieldType.BOOLEAN), "false") == ValueCheck(FILLED, False)


@pytest.mark.parametrize("raw", ["maybe", "y", 2, -1, 1.0, ["true"], "да"])
def test_boolean_rejects_other_values(raw: object) -> None:
    assert invalid(FieldType.BOOLEAN, raw) == "type"


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01", "2024-05-01"),
        (" 2024-05-01 ", "2024-05-01"),
        ("1714521600000", "2024-05-01"),  # HubSpot epoch milliseconds (midnight UTC)
        (1714521600000, "2024-05-01"),
        ("2024-05-01T23:30:00Z", "2024-05-01"),
        ("2024-05-01T10:00:00+03:00", "2024-05-01"),
        ("2024-05-01 10:00", "2024-05-01"),
        ("-86400000", "1969-12-31"),
        (date(2024, 5, 1), "2024-05-01"),
        (datetime(2024, 5, 1, 12, 0), "2024-05-01"),
    ],
)
def test_date_accepts_iso_dates_datetimes_and_epoch_milliseconds(raw: object, expected: str) -> None:
    assert filled(FieldType.DATE, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30",
        "2024-13-01",
        "01.05.2024",
        "May 1",
        "2024-05-01T25:00",
        "9" * 16,
        True,
        1.5,
        ["2024-05-01"],
    ],
)
def test_date_rejects_impossible_and_foreign_formats(raw: object) -> None:
    assert invalid(FieldType.DATE, raw) == "type"


def test_date_rejects_epoch_milliseconds_out_of_range() -> None:
    assert invalid(FieldType.DATE, "999999999999999") == "type"


# --- enums --------------------------------------------------------------------------------------


def test_enum_accepts_an_option_case_sensitively() -> None:
    assert filled(FieldType.ENUM, " retail ", options=OPTIONS) == "retail"
    assert invalid(FieldType.ENUM, "Retail", options=OPTIONS) == "options"


def test_enum_accepts_numbers_matching_an_option() -> None:
    assert filled(FieldType.ENUM, 3, options=("1", "3")) == "3"


@pytest.mark.parametrize("raw", [True, ["retail"], {"v": "retail"}])
def test_enum_rejects_non_scalars(raw: object) -> None:
    assert invalid(FieldType.ENUM, raw, options=OPTIONS) == "type"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("retail;b2b", ["retail", "b2b"]),
        ("b2b; retail ;b2b", ["b2b", "retail"]),
        (["other", "retail", "other"], ["other", "retail"]),
        (("b2b",), ["b2b"]),
        ("retail;;n/a", ["retail"]),
    ],
)
def test_multi_enum_splits_crm_strings_dedupes_and_keeps_order(raw: object, expected: list[str]) -> None:
    assert filled(FieldType.MULTI_ENUM, raw, options=OPTIONS) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("retail;bogus", "options"),
        (["retail", 5], "options"),
        (["retail", None], "type"),
        (7.5, "type"),
        ({"a"}, "type"),
    ],
)
def test_multi_enum_requires_every_item_to_be_an_option(raw: object, expected: str) -> None:
    assert invalid(FieldType.MULTI_ENUM, raw, options=OPTIONS) == expected


# --- storage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (FieldType.MONEY, " 25000.00 ", "25000"),
        (FieldType.MONEY, "n/a", None),
        (FieldType.MONEY, "", None),
        (FieldType.MONEY, None, None),
        (FieldType.MONEY, " lots ", "lots"),
        (FieldType.INTEGER, ["x"], ["x"]),
        (FieldType.BOOLEAN, "no", False),
        (FieldType.DATE, "1714521600000", "2024-05-01"),
    ],
)
def test_normalize_for_storage_keeps_normalized_values_drops_missing_and_strips_invalid(
    kind: FieldType, raw: object, expected: object
) -> None:
    assert normalize_for_storage(spec(kind), raw, DEFAULT_PLACEHOLDERS) == expected


def test_normalize_for_storage_of_a_multi_enum_is_a_list() -> None:
    assert normalize_for_storage(spec(FieldType.MULTI_ENUM, options=OPTIONS), "b2b;retail") == [
        "b2b",
        "retail",
    ]


def test_value_check_filled_property_reflects_the_state() -> None:
    assert ValueCheck(FILLED, "x").filled
    assert not ValueCheck(MISSING).filled


def test_check_value_tolerates_unhashable_specs_and_placeholder_sets() -> None:
    loose = FieldSpec("f", "F", FieldType.ENUM, Constraints(options=["a", "b"]))  # type: ignore[arg-type]
    assert check_value(loose, "a").value == "a"
    assert check_value(spec(FieldType.TEXT), "NONE", {"none"}).state is MISSING  # type: ignore[arg-type]


def test_placeholders_are_normalized_before_use() -> None:
    assert check_value(spec(FieldType.TEXT), "none", frozenset({" None "})).state is MISSING
