"""Field definitions and value-check results: the plain data the rest of the domain uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class FieldType(StrEnum):
    """The value type of a portrait field."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    MONEY = "money"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"
    MULTI_ENUM = "multi_enum"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"


NUMERIC_TYPES = frozenset({FieldType.NUMBER, FieldType.INTEGER, FieldType.MONEY})
TEXT_LIKE_TYPES = frozenset({FieldType.TEXT, FieldType.EMAIL, FieldType.PHONE, FieldType.URL})
OPTION_TYPES = frozenset({FieldType.ENUM, FieldType.MULTI_ENUM})


@dataclass(frozen=True)
class Constraints:
    """Optional limits on a field's value.

    ``min``/``max`` apply to number, integer and money fields; ``min_length``, ``max_length``
    and ``regex`` (full match) to text-like fields (text, email, phone, url); ``options`` is
    required for enum and multi_enum fields and forbidden elsewhere. See ``validate_spec``.
    """

    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    """A qualification field: stable key, labels (English and optional Russian), type, constraints."""

    key: str
    label: str
    type: FieldType
    constraints: Constraints = Constraints()
    label_ru: str | None = None

    def label_for(self, language: str) -> str:
        """Return the label for ``language`` ("ru" uses ``label_ru`` when set); never raises."""
        if self.label_ru and language_code(language) == "ru":
            return self.label_ru
        return self.label


DEFAULT_PLACEHOLDERS: frozenset[str] = frozenset({"-", "—", "n/a", "na", "?", "tbd", "unknown"})


def normalize_placeholders(values: Iterable[str]) -> frozenset[str]:
    """Return the placeholder set lower-cased and stripped, dropping empty entries; never raises."""
    return frozenset(v.strip().lower() for v in values if v.strip())


def language_code(language: str | None) -> str:
    """Reduce a language tag ("ru-RU", "RU", "en_GB") to a supported code: "ru" or "en" (fallback)."""
    if not language:
        return "en"
    code = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return "ru" if code == "ru" else "en"


class ValueState(StrEnum):
    """Whether a raw value counts as filled: present and valid, absent/placeholder, or present but bad."""

    FILLED = "filled"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class ValueCheck:
    """Result of checking one raw value against a field.

    ``value`` is the JSON-serializable normalized value when FILLED (else None);
    ``constraint`` names the failed check when INVALID: "type", "min", "max", "min_length",
    "max_length", "regex" or "options".
    """

    state: ValueState
    value: object = None
    constraint: str | None = None

    @property
    def filled(self) -> bool:
        """True when the value is present and valid."""
        return self.state is ValueState.FILLED
