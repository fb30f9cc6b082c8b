"""Parsing primitives for raw field values from CRMs (strings) and from our JSON API.

Every function here returns ``None`` for a value it cannot parse instead of raising, so the
checkers in ``checkers.py`` can classify it as INVALID without exception overhead.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

# Numbers are limited to 100 characters and magnitudes within 1e-100..1e100, so formatting a
# parsed number as a plain decimal string can never allocate a giant string.
MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 100

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})

ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ISO_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", re.ASCII)
# HubSpot date properties are epoch milliseconds at midnight UTC, e.g. "1714521600000"
# (https://developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis).
_EPOCH_MS_RE = re.compile(r"-?\d{1,15}", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE_RE = re.compile(r"\+?[\d\s().\-]+", re.ASCII)
_MIN_PHONE_DIGITS = 5
_MAX_PHONE_DIGITS = 20
_MAX_EMAIL_CHARS = 254


def parse_decimal(raw: object) -> Decimal | None:
    """Parse an int, float, Decimal or numeric string into a finite Decimal, else None.

    Booleans, NaN, infinities, non-numeric strings and absurd magnitudes return None.
    """
    if isinstance(raw, str):
        return parse_decimal_str(raw.strip())
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw) if abs(raw) < 10**MAX_EXPONENT else None
    if isinstance(raw, float):
        return parse_decimal_str(repr(raw)) if math.isfinite(raw) else None
    if isinstance(raw, Decimal):
        return parse_decimal_str(str(raw))
    return None


def parse_decimal_str(text: str) -> Decimal | None:
    """Parse an already-stripped numeric string ("12.5", "-3", "1e3", ".5"), else None.

    Rejects NaN/Infinity, underscores ("1_000"), commas, non-ASCII digits, more than 100
    characters and magnitudes outside 1e-100..1e100.
    """
    # Decimal() itself is the parser (much cheaper than a regex pre-check on this hot path);
    # the checks around it reject what Decimal accepts but a field value must not be.
    if text.isdigit() and text.isascii() and len(text) <= MAX_NUMBER_CHARS:
        return Decimal(text)  # the common case, e.g. HubSpot amounts "25000"
    if len(text) > MAX_NUMBER_CHARS or not text.isascii() or "_" in text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or (number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT):
        return None
    return number


def decimal_to_str(number: Decimal) -> str:
    """Render a Decimal as a plain decimal string without exponent or trailing zeros ("12.5", "100")."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "", "+0"):
        return "0"
    return text


def parse_bool(raw: object) -> bool | None:
    """Parse a bool, 0/1, or true/false/yes/no/1/0 (any case, surrounding spaces) into a bool, else None."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return {0: False, 1: True}.get(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def parse_date(raw: object) -> str | None:
    """Parse a date into ISO "YYYY-MM-DD", else None.

    Accepts "YYYY-MM-DD", ISO datetimes (the calendar date as written, offset ignored),
    epoch milliseconds as a digit string or int (UTC), and ``date``/``datetime`` objects.
    """
    if isinstance(raw, str):
        return parse_date_str(raw.strip())
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return _from_epoch_ms(raw)
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return None


def parse_date_str(text: str) -> str | None:
    """Parse an already-stripped date string (see ``parse_date``), else None."""
    try:
        if ISO_DATE_RE.fullmatch(text):
            return date.fromisoformat(text).isoformat()
        if _EPOCH_MS_RE.fullmatch(text):
            return _from_epoch_ms(int(text))
        if _ISO_DATETIME_RE.fullmatch(text):
            return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        return None
    return None


def _from_epoch_ms(millis: int) -> str | None:
    try:
        return (_EPOCH + timedelta(milliseconds=millis)).date().isoformat()
    except OverflowError:
        return None


def is_email(text: str) -> bool:
    """True when ``text`` (stripped) looks like an email address: one "@", a dot in the domain, no spaces."""
    return len(text) <= _MAX_EMAIL_CHARS and _EMAIL_RE.fullmatch(text) is not None


def is_phone(text: str) -> bool:
    """True when ``text`` is digits with optional leading "+" and ( ) - . spaces, holding 5..20 digits."""
    if _PHONE_RE.fullmatch(text) is None:
        return False
    digits = sum(ch.isdigit() for ch in text)
    return _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS


def is_url(text: str) -> bool:
    """True when ``text`` is an http or https URL with a host and no whitespace."""
    if any(ch.isspace() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)
