"""Keeping secrets out of text: log lines, error messages and the errors' stored fields.

A CRM's registry entry declares `secret_patterns` (regexes whose every match is a secret, e.g. Bitrix24's
incoming-webhook code in a URL); `redact_text` replaces each match, and each known secret value, with
REDACTED. Adapters pass every error they raise through `redact_error`, so a stored `last_error`, a vendor
message shown in a problem body or a logged exception never carries the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from adapters.errors import CRMError

REDACTED = "[redacted]"
MIN_LITERAL = 6  # shorter known values would redact ordinary words; real secrets are far longer

Patterns = Sequence[re.Pattern[str]]


def redact_text(text: str, patterns: Patterns, literals: Iterable[str] = ()) -> str:
    """`text` with every match of `patterns` and every occurrence of `literals` (of MIN_LITERAL characters
    or more) replaced by REDACTED."""
    for literal in literals:
        if len(literal) >= MIN_LITERAL:
            text = text.replace(literal, REDACTED)
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


def redact_error(exc: CRMError, patterns: Patterns, literals: Sequence[str] = ()) -> CRMError:
    """The same error with its message, vendor message and body redacted (changed in place, returned)."""
    if not patterns and not literals:
        return exc
    exc.message = redact_text(exc.message, patterns, literals)
    exc.args = (exc.message,)
    if exc.vendor_message:
        exc.vendor_message = redact_text(exc.vendor_message, patterns, literals)
    if exc.body:
        exc.body = redact_text(exc.body, patterns, literals)
    return exc


def query_secret(name: str) -> re.Pattern[str]:
    """A pattern matching the value of the query parameter `name` in a URL (`?name=S` or `&name=S`), for CRMs
    authenticated by a token in Qualify's webhook URL."""
    return re.compile(rf"(?<=[?&]{re.escape(name)}=)[^&#\s\"'<>]+")
