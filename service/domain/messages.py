"""Human-readable messages in English ("en") and Russian ("ru"); other languages fall back to English.

Language tags are reduced with ``language_code`` ("ru-RU" -> "ru"). Field labels passed in
are used as given: callers pick ``FieldSpec.label_for(language)``.
"""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from service.domain.fieldtypes import FieldSpec, FieldType, language_code
from service.domain.issues import FieldIssue, Outcome, Reason
from service.domain.values import decimal_to_str

_MAX_LISTED_OPTIONS = 10
_MAX_DEAL_NAME = 80

_TYPE_HINTS: dict[str, dict[FieldType, str]] = {
    "en": {
        FieldType.TEXT: "must be text",
        FieldType.NUMBER: "must be a number",
        FieldType.INTEGER: "must be a whole number",
        FieldType.MONEY: "must be an amount",
        FieldType.BOOLEAN: "must be yes or no",
        FieldType.DATE: "must be a date (YYYY-MM-DD)",
        FieldType.ENUM: "must be one of the options",
        FieldType.MULTI_ENUM: "must be a list of options",
        FieldType.EMAIL: "must be an email address",
        FieldType.PHONE: "must be a phone number",
        FieldType.URL: "must be an http(s) link",
    },
    "ru": {
        FieldType.TEXT: "должно быть текстом",
        FieldType.NUMBER: "должно быть числом",
        FieldType.INTEGER: "должно быть целым числом",
        FieldType.MONEY: "должно быть суммой",
        FieldType.BOOLEAN: "должно быть «да» или «нет»",
        FieldType.DATE: "должно быть датой (ГГГГ-ММ-ДД)",
        FieldType.ENUM: "должно быть одним из вариантов",
        FieldType.MULTI_ENUM: "должно быть списком вариантов",
        FieldType.EMAIL: "должно быть адресом электронной почты",
        FieldType.PHONE: "должно быть номером телефона",
        FieldType.URL: "должно быть ссылкой http(s)",
    },
}

_DETAILS: dict[str, dict[str, str]] = {
    "en": {
        "type": "wrong format",
        "min": "must be at least {min}",
        "max": "must be at most {max}",
        "min_length": "must be at least {min_length} characters",
        "max_length": "must be at most {max_length} characters",
        "regex": "does not match the required format",
        "options": "must be one of: {options}",
        "min_generic": "too small",
        "max_generic": "too large",
        "min_length_generic": "too short",
        "max_length_generic": "too long",
        "options_generic": "not one of the allowed options",
    },
    "ru": {
        "type": "неверный формат",
        "min": "должно быть не меньше {min}",
        "max": "должно быть не больше {max}",
        "min_length": "должно содержать не меньше {min_length} симв.",
        "max_length": "должно содержать не больше {max_length} симв.",
        "regex": "не соответствует требуемому формату",
        "options": "должно быть одним из: {options}",
        "min_generic": "слишком маленькое значение",
        "max_generic": "слишком большое значение",
        "min_length_generic": "слишком короткое значение",
        "max_length_generic": "слишком длинное значение",
        "options_generic": "нет среди допустимых вариантов",
    },
}


def constraint_detail(constraint: str | None, language: str, spec: FieldSpec | None = None) -> str:
    """Explain a failed check ("must be at least 1000"); uses the spec's limits when given. Never raises."""
    lang = language_code(language)
    details = _DETAILS[lang]
    if constraint == "type" and spec is not None:
        return _TYPE_HINTS[lang][FieldType(spec.type)]
    if constraint not in details:
        return details["type"]
    assert constraint is not None
    c = spec.constraints if spec is not None else None
    values: dict[str, str] = {}
    if c is not None:
        if c.min is not None:
            values["min"] = decimal_to_str(c.min)
        if c.max is not None:
            values["max"] = decimal_to_str(c.max)
        if c.min_length is not None:
            values["min_length"] = str(c.min_length)
        # Over-long input to a regex is reported as max_length even without a max_length limit.
        values["max_length"] = str(c.max_length if c.max_length is not None else 10_000)
        if c.options:
            shown = ", ".join(c.options[:_MAX_LISTED_OPTIONS])
            values["options"] = shown + (", …" if len(c.options) > _MAX_LISTED_OPTIONS else "")
    if constraint in ("min", "max", "min_length", "max_length", "options") and constraint not in values:
        return details[f"{constraint}_generic"]
    return details[constraint].format(**values)


@lru_cache(maxsize=4096)
def issue_message(
    label: str, reason: Reason, constraint: str | None, language: str, *, spec: FieldSpec | None = None
) -> str:
    """One issue as a sentence: en "Industry is missing", "Budget is invalid (must be at least 1000)";
    ru "Не заполнено поле «Отрасль»", "Поле «Бюджет» заполнено неверно (...)". Never raises.

    ``spec`` (optional) lets the detail name the limit or expected type.
    """
    ru = language_code(language) == "ru"
    if reason is Reason.MISSING:
        return f"Не заполнено поле «{label}»" if ru else f"{label} is missing"
    if reason is Reason.UNKNOWN_FIELD:
        if ru:
            return f"Поле «{label}» обязательно, но не настроено (неизвестное поле)"
        return f"{label} is required but is not a configured field"
    detail = constraint_detail(constraint, language, spec)
    return f"Поле «{label}» заполнено неверно ({detail})" if ru else f"{label} is invalid ({detail})"


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """Pick the Russian plural form for ``n`` (1 поле, 2 поля, 5 полей, 21 поле, 11 полей)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _count_fields(n: int, ru: bool) -> str:
    if ru:
        return f"{n} {plural_ru(n, 'поле', 'поля', 'полей')}"
    return f"{n} field" if n == 1 else f"{n} fields"


def _labels(issues: Sequence[FieldIssue], ru: bool) -> str:
    return ", ".join(f"«{i.label}»" if ru else i.label for i in issues)


def decision_message(
    decision_outcome: Outcome, target_label: str, issues: Sequence[FieldIssue], language: str
) -> str:
    """Summarize a decision for the target stage, listing the issue labels; never raises.

    en "Move to Presentation is blocked: fill 2 fields: Industry, Budget";
    ru "Переход на этап «Презентация» запрещён: заполните 2 поля: «Отрасль», «Бюджет»".
    """
    ru = language_code(language) == "ru"
    count, labels = _count_fields(len(issues), ru), _labels(issues, ru)
    if ru:
        head = f"Переход на этап «{target_label}»"
        if decision_outcome is Outcome.BLOCKED:
            return f"{head} запрещён: заполните {count}: {labels}"
        if decision_outcome is Outcome.WARNED:
            return f"{head} разрешён с предупреждением: не заполнено полей: {len(issues)} ({labels})"
        if decision_outcome is Outcome.AUDITED:
            return f"{head} разрешён; записано для аудита, не заполнено полей: {len(issues)} ({labels})"
        return f"{head} разрешён"
    head = f"Move to {target_label}"
    if decision_outcome is Outcome.BLOCKED:
        return f"{head} is blocked: fill {count}: {labels}"
    if decision_outcome is Outcome.WARNED:
        return f"{head} is allowed with a warning: {count} not filled: {labels}"
    if decision_outcome is Outcome.AUDITED:
        return f"{head} is allowed; recorded for audit: {count} not filled: {labels}"
    return f"{head} is allowed"


def task_text(
    deal_name: str | None,
    stage_label: str,
    issues: Sequence[FieldIssue],
    language: str,
    reverted_to: str | None,
) -> tuple[str, str]:
    """Return (subject, body) of the CRM task asking the deal owner to fill fields; never raises.

    Subject: "Qualify: fill 3 fields to move «Acme» to Presentation". The body says whether the
    move was reverted (``reverted_to`` is the stage label the deal is back in) or only warned,
    then lists each issue's message on its own line (messages are in the decision's language).
    """
    ru = language_code(language) == "ru"
    name = (deal_name or "").strip()
    if len(name) > _MAX_DEAL_NAME:
        name = name[: _MAX_DEAL_NAME - 1] + "…"
    count = _count_fields(len(issues), ru)
    if ru:
        deal = f"«{name}»" if name else "сделку"
        subject = f"Qualify: заполните {count}, чтобы перевести {deal} на этап «{stage_label}»"
        if reverted_to is not None:
            intro = (
                f"Сделка возвращена на этап «{reverted_to}»: переход на этап «{stage_label}» "
                "возможен только после заполнения полей:"
            )
        else:
            intro = f"Сделка переведена на этап «{stage_label}», но заполните, пожалуйста, поля:"
    else:
        deal = f"«{name}»" if name else "the deal"
        subject = f"Qualify: fill {count} to move {deal} to {stage_label}"
        if reverted_to is not None:
            intro = (
                f"The move was reverted: the deal is back in {reverted_to}. "
                f"It can move to {stage_label} once these fields are filled:"
            )
        else:
            intro = f"The deal moved to {stage_label} (warning only), but please fill these fields:"
    lines = [intro, *(f"- {issue.message}" for issue in issues)]
    return subject, "\n".join(lines)
