"""Deal amounts as plain decimal text ("1234.50"): what every adapter puts in `DealSnapshot.amount`.

CRMs answer amounts as JSON numbers (Pipedrive's `value`, amoCRM's `price`) or as text (HubSpot's `amount`,
Bitrix24's `OPPORTUNITY`). The service parses the text with `Decimal`, so it must never be a float's exponent
form ("1e+21"), nor carry separators ("1 234,50", "1,234.50"), nor be "NaN" or "Infinity". Text that is already
plain is returned as it is (no copy, no rounding, trailing zeros kept): sync converts every deal it reads.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")  # [0-9], not \d: \d takes every script's digits
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'_")  # thousands separators, the apostrophe of Swiss francs
MAX_CHARS = 60  # longer text is not an amount
MAX_EXPONENT = 30  # nor is a number of more than 31 integer digits, or one smaller than 1e-30
_INT_BOUND = 10 ** (MAX_EXPONENT + 1)


def plain_amount(value: object) -> str | None:
    """`value` as plain decimal text: ints and Decimals exactly, floats by their shortest repr (1234.5 ->
    "1234.5", 50000.0 -> "50000", 1e21 -> "1000000000000000000000"), text with its separators read ("1 234,50"
    and "1,234.50" -> "1234.50"). None for None, "", booleans, non-finite or huge numbers and anything that is
    not a number."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if _PLAIN.fullmatch(text):
            return text
        return _from_text(text)
    if value is None or kind is bool:
        return None
    if kind is int:
        return str(value) if -_INT_BOUND < value < _INT_BOUND else None  # type: ignore[operator]
    if kind is float:
        number: float = value  # type: ignore[assignment]
        if number.is_integer() and -_INT_BOUND < number < _INT_BOUND:
            return str(int(number))  # 50000.0 -> "50000", as the CRM shows it
        return _finite(Decimal(repr(number)))
    if kind is Decimal:
        return _finite(value)  # type: ignore[arg-type]
    return None


def _from_text(text: str) -> str | None:
    cleaned = text.strip().translate(_SPACES)
    if not cleaned or len(cleaned) > MAX_CHARS or not cleaned.isascii():
        return None
    commas = cleaned.count(",")
    if commas:
        # "1,234.50" and "1,234,567": commas group thousands. "1234,50" and "1.234,50": the comma is the decimal
        # mark (as Russian and most European locales write it), and dots, if any, group thousands.
        head, _, tail = cleaned.rpartition(",")
        if "." in tail or (commas > 1 and "." not in cleaned):
            cleaned = cleaned.replace(",", "")
        elif commas == 1:
            cleaned = head.replace(".", "") + "." + tail
    if _PLAIN.fullmatch(cleaned):
        return cleaned
    try:
        return _finite(Decimal(cleaned))
    except InvalidOperation:
        return None


def _finite(number: Decimal) -> str | None:
    # Bounded before formatting: "1e999999999" is short text whose plain form would take a gigabyte.
    if not number.is_finite() or not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        return None
    return format(number, "f")
