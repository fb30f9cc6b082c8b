"""Numbers a CRM sends in webhooks, parsed strictly: ASCII digits only, bounded length and range.

`str.isdigit()` accepts superscripts ("²") and other scripts' digits ("١٢", which `int()` reads as 12), and
`int()` refuses more than 4,300 digits with a ValueError: neither may reach `int()` or `datetime`. Every
helper here raises a `WebhookError` naming the field (`WebhookFormatError` by default, for body values that
an authentic delivery carries; verifiers pass `WebhookAuthError` for what they read before authenticating).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from adapters.errors import WebhookError, WebhookFormatError

_DIGITS = re.compile(r"[0-9]+")  # [0-9], not \d: \d matches every script's digits
MAX_ID_DIGITS = 20  # CRM ids are 64-bit at most (HubSpot's, the largest, fit in 19 digits)
MIN_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z: no CRM event of Qualify's is older
MAX_EPOCH = 4_102_444_800  # 2100-01-01T00:00:00Z
_SHOWN = 40  # characters of a refused value quoted in the error


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str | bytes) else type(value).__name__
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text)} characters)"


def ascii_int(value: object, field: str, *, max_digits: int = MAX_ID_DIGITS, minimum: int = 0,
              maximum: int | None = None, error: type[WebhookError] = WebhookFormatError,
              reason: str = "bad_event", where: str = "") -> int:  # fmt: skip
    """A non-negative integer from a JSON integer or a string of 1..`max_digits` ASCII digits, within
    [minimum, maximum]. Anything else (bools, floats, signs, spaces, other scripts' digits) raises `error`
    with `reason`, `field` and a detail naming the field (after `where`, e.g. "event 3: ")."""
    if type(value) is int:
        number = value
        if number < 0 or number.bit_length() > max_digits * 4:  # 10**n < 2**(4n): cheap bound before str()
            raise error(reason, f"{where}{field} must be a number of at most {max_digits} digits", field=field)
    elif isinstance(value, str) and len(value) <= max_digits and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise error(reason, f"{where}{field} must be a number of at most {max_digits} ASCII digits, got "
                            f"{_shown(value)}", field=field)  # fmt: skip
    if number < minimum or (maximum is not None and number > maximum) or len(str(number)) > max_digits:
        raise error(reason, f"{where}{field} is out of range: {number}", field=field)
    return number


def numeric_id(value: object, field: str, *, where: str = "") -> str:
    """A CRM object id that must be numeric (it goes into CRM URLs), as canonical ASCII digits; see ascii_int
    (WebhookFormatError bad_event)."""
    return str(ascii_int(value, field, where=where))


def optional_id(value: object, field: str, *, where: str = "") -> str | None:
    """numeric_id, or None when the value is absent (None or "")."""
    return None if value is None or value == "" else numeric_id(value, field, where=where)


def epoch_seconds(value: object, field: str, *, where: str = "") -> datetime:
    """A UTC time from Unix seconds between 2000 and 2100; see ascii_int (WebhookFormatError bad_event)."""
    seconds = ascii_int(value, field, max_digits=10, minimum=MIN_EPOCH, maximum=MAX_EPOCH - 1, where=where)
    return datetime.fromtimestamp(seconds, tz=UTC)


def millis(value: object, field: str, *, where: str = "") -> int:
    """Unix milliseconds between 2000 and 2100, as the number; see ascii_int (WebhookFormatError bad_event)."""
    return ascii_int(value, field, max_digits=13, minimum=MIN_EPOCH * 1000, maximum=MAX_EPOCH * 1000 - 1,
                     where=where)  # fmt: skip


def epoch_millis(value: object, field: str, *, where: str = "") -> datetime:
    """A UTC time from Unix milliseconds between 2000 and 2100; see ascii_int (WebhookFormatError bad_event)."""
    return datetime.fromtimestamp(millis(value, field, where=where) / 1000.0, tz=UTC)


def in_range(at: datetime, field: str, *, where: str = "") -> datetime:
    """`at` when it falls between 2000 and 2100, else WebhookFormatError (bad_event) naming `field`."""
    if not MIN_EPOCH <= at.timestamp() < MAX_EPOCH:
        raise WebhookFormatError("bad_event", f"{where}{field} is out of range: {at.isoformat()}", field=field)
    return at
