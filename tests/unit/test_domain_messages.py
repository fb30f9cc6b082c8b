"""Human messages in English and Russian: issues, decisions and CRM task texts."""

# Russian labels and messages are intentional: Cyrillic letters are not Latin confusables.
# ruff: noqa: RUF001

from __future__ import annotations

from decimal import Decimal

import pytest

from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.issues import FieldIssue, Outcome, Reason
from service.domain.messages import decision_message, issue_message, plural_ru, task_text
from service.domain.pipeline import GateMode


def issue(
    label: str, reason: Reason = Reason.MISSING, language: str = "en", constraint: str | None = None
) -> FieldIssue:
    return FieldIssue(
        label.lower(),
        label,
        reason,
        "s",
        GateMode.ENFORCE,
        issue_message(label, reason, constraint, language),
        constraint,
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Industry is missing"),
        ("ru", "Не заполнено поле «Industry»"),
        ("ru-RU", "Не заполнено поле «Industry»"),
        ("RU", "Не заполнено поле «Industry»"),
        ("de", "Industry is missing"),
        ("", "Industry is missing"),
    ],
)
def test_missing_field_messages_and_language_fallback(language: str, expected: str) -> None:
    assert issue_message("Industry", Reason.MISSING, None, language) == expected


def test_unknown_field_messages_say_the_configuration_is_broken() -> None:
    assert (
        issue_message("colour", Reason.UNKNOWN_FIELD, None, "en")
        == "colour is required but is not a configured field"
    )
    assert "неизвестное поле" in issue_message("colour", Reason.UNKNOWN_FIELD, None, "ru")


BUDGET = FieldSpec(
    "budget", "Budget", FieldType.MONEY, Constraints(min=Decimal(1000), max=Decimal("99999.50"))
)
NAME = FieldSpec("name", "Name", FieldType.TEXT, Constraints(min_length=2, max_length=50, regex="[A-Z].*"))
KIND = FieldSpec("kind", "Kind", FieldType.ENUM, Constraints(options=tuple(f"o{i}" for i in range(12))))


@pytest.mark.parametrize(
    ("spec", "constraint", "en", "ru"),
    [
        (
            BUDGET,
            "min",
            "Budget is invalid (must be at least 1000)",
            "Поле «Budget» заполнено неверно (должно быть не меньше 1000)",
        ),
        (
            BUDGET,
            "max",
            "Budget is invalid (must be at most 99999.5)",
            "Поле «Budget» заполнено неверно (должно быть не больше 99999.5)",
        ),
        (
            BUDGET,
            "type",
            "Budget is invalid (must be an amount)",
            "Поле «Budget» заполнено неверно (должно быть суммой)",
        ),
        (
            NAME,
            "min_length",
            "Name is invalid (must be at least 2 characters)",
            "Поле «Name» заполнено неверно (должно содержать не меньше 2 симв.)",
        ),
        (
            NAME,
            "max_length",
            "Name is invalid (must be at most 50 characters)",
            "Поле «Name» заполнено неверно (должно содержать не больше 50 симв.)",
        ),
        (
            NAME,
            "regex",
            "Name is invalid (does not match the required format)",
            "Поле «Name» заполнено неверно (не соответствует требуемому формату)",
        ),
        (
            KIND,
            "options",
            "Kind is invalid (must be one of: o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, …)",
            "Поле «Kind» заполнено неверно (должно быть одним из: o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, …)",
        ),
    ],
)
def test_invalid_messages_explain_the_failed_constraint_in_both_languages(
    spec: FieldSpec, constraint: str, en: str, ru: str
) -> None:
    assert issue_message(spec.label, Reason.INVALID, constraint, "en", spec=spec) == en
    assert issue_message(spec.label, Reason.INVALID, constraint, "ru", spec=spec) == ru


@pytest.mark.parametrize("kind", list(FieldType))
def test_every_type_has_a_format_hint_in_both_languages(kind: FieldType) -> None:
    spec = FieldSpec(
        "f", "F", kind, Constraints(options=("a",)) if kind in ("enum", "multi_enum") else Constraints()
    )
    en = issue_message("F", Reason.INVALID, "type", "en", spec=spec)
    ru = issue_message("F", Reason.INVALID, "type", "ru", spec=spec)
    assert en.startswith("F is invalid (must be")
    assert ru.startswith("Поле «F» заполнено неверно (должно быть")


@pytest.mark.parametrize(
    "constraint", ["min", "max", "min_length", "max_length", "regex", "options", "type", None]
)
def test_invalid_messages_without_a_spec_stay_generic(constraint: str | None) -> None:
    en = issue_message("Budget", Reason.INVALID, constraint, "en")
    assert en.startswith("Budget is invalid (") and en.endswith(")")
    assert "{" not in en
    assert "{" not in issue_message("Budget", Reason.INVALID, constraint, "ru")


def test_an_overlong_value_for_a_regex_reports_the_cap() -> None:
    spec = FieldSpec("code", "Code", FieldType.TEXT, Constraints(regex="a+"))
    assert issue_message("Code", Reason.INVALID, "max_length", "en", spec=spec).endswith(
        "at most 10000 characters)"
    )


@pytest.mark.parametrize(
    ("n", "form"),
    [
        (1, "поле"),
        (2, "поля"),
        (4, "поля"),
        (5, "полей"),
        (11, "полей"),
        (12, "полей"),
        (14, "полей"),
        (21, "поле"),
        (22, "поля"),
        (25, "полей"),
        (101, "поле"),
        (111, "полей"),
        (0, "полей"),
    ],
)
def test_russian_plural_forms(n: int, form: str) -> None:
    assert plural_ru(n, "поле", "поля", "полей") == form


def test_decision_messages_for_every_outcome_in_english() -> None:
    issues = [issue("Industry"), issue("Budget")]
    assert (
        decision_message(Outcome.BLOCKED, "Demo", issues, "en")
        == "Move to Demo is blocked: fill 2 fields: Industry, Budget"
    )
    assert decision_message(Outcome.WARNED, "Demo", issues[:1], "en") == (
        "Move to Demo is allowed with a warning: 1 field not filled: Industry"
    )
    assert decision_message(Outcome.AUDITED, "Demo", issues, "en") == (
        "Move to Demo is allowed; recorded for audit: 2 fields not filled: Industry, Budget"
    )
    assert decision_message(Outcome.ALLOWED, "Demo", [], "en") == "Move to Demo is allowed"


def test_decision_messages_for_every_outcome_in_russian() -> None:
    issues = [issue("Отрасль", language="ru"), issue("Бюджет", language="ru")]
    assert decision_message(Outcome.BLOCKED, "Демо", issues, "ru") == (
        "Переход на этап «Демо» запрещён: заполните 2 поля: «Отрасль», «Бюджет»"
    )
    assert decision_message(Outcome.BLOCKED, "Демо", issues[:1], "ru").endswith("заполните 1 поле: «Отрасль»")
    assert "с предупреждением" in decision_message(Outcome.WARNED, "Демо", issues, "ru")
    assert "аудита" in decision_message(Outcome.AUDITED, "Демо", issues, "ru")
    assert decision_message(Outcome.ALLOWED, "Демо", [], "ru") == "Переход на этап «Демо» разрешён"


def test_task_text_for_a_reverted_move_in_english() -> None:
    issues = [issue("Industry"), issue("Budget", Reason.INVALID, constraint="min"), issue("Email")]
    subject, body = task_text("Acme", "Presentation", issues, "en", reverted_to="Qualification")
    assert subject == "Qualify: fill 3 fields to move «Acme» to Presentation"
    lines = body.splitlines()
    assert "reverted" in lines[0] and "Qualification" in lines[0] and "Presentation" in lines[0]
    assert lines[1:] == ["- Industry is missing", "- Budget is invalid (too small)", "- Email is missing"]


def test_task_text_for_a_warned_move_in_english() -> None:
    subject, body = task_text(None, "Proposal", [issue("Industry")], "en", reverted_to=None)
    assert subject == "Qualify: fill 1 field to move the deal to Proposal"
    assert "warning only" in body and "reverted" not in body
    assert body.splitlines()[1:] == ["- Industry is missing"]


def test_task_text_in_russian() -> None:
    issues = [issue("Отрасль", language="ru"), issue("Бюджет", language="ru")]
    subject, body = task_text("Акме", "Презентация", issues, "ru", reverted_to="Квалификация")
    assert subject == "Qualify: заполните 2 поля, чтобы перевести «Акме» на этап «Презентация»"
    assert body.splitlines()[0].startswith("Сделка возвращена на этап «Квалификация»")
    assert body.splitlines()[1:] == ["- Не заполнено поле «Отрасль»", "- Не заполнено поле «Бюджет»"]
    subject, body = task_text("  ", "Презентация", issues[:1], "ru", reverted_to=None)
    assert subject == "Qualify: заполните 1 поле, чтобы перевести сделку на этап «Презентация»"
    assert "Сделка переведена" in body


def test_task_text_shortens_very_long_deal_names() -> None:
    subject, _ = task_text("A" * 500, "Demo", [issue("X")], "en", reverted_to=None)
    assert "A" * 79 + "…" in subject
    assert len(subject) < 150
