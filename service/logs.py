"""Where logs go and what they may never carry: every record goes to stderr through one filter that replaces
secrets (API keys, bearer tokens, webhook tokens in URLs, and each CRM's own patterns from the registry, e.g.
Bitrix24's incoming-webhook code) before it is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"
# Secrets of any CRM or of Qualify itself that may end up in a message, an exception or a URL.
GENERIC_SECRETS = (
    re.compile(r"qk_[0-9a-f]{8}_[A-Za-z0-9_-]+"),  # Qualify API keys
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)([?&](?:secret|token|access_token|refresh_token|application_token|api_token)=)[^&\s\"']+"),
)
QUIET_LIBRARIES = ("apscheduler", "alembic.runtime.plugins", "httpx", "httpcore")


def redact(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    """`text` with every match of `patterns` replaced (a first group, when the pattern has one, is kept: it
    names what follows, e.g. `?secret=`)."""
    for pattern in patterns:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + REDACTED, text)
    return text


class SecretFilter(logging.Filter):
    """Formats each record's message (and its traceback) once, with every secret replaced."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        super().__init__()
        self.patterns = tuple(patterns)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        record.msg, record.args = redact(record.getMessage(), self.patterns), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.patterns)
        return True


def secret_patterns() -> tuple[re.Pattern[str], ...]:
    """The generic patterns and every registered CRM's own."""
    from adapters.registry import REGISTRY

    return GENERIC_SECRETS + tuple(p for kind in REGISTRY.values() for p in kind.secret_patterns)


def configure_logging(level: str | int, *, quiet: bool = False) -> None:
    """Send every log record to stderr through the secret filter, at `level` (WARNING when `quiet`); the
    libraries that log each request (httpx: every CRM URL) or each tick log warnings only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SecretFilter(secret_patterns()))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING if quiet else level, handlers=[handler], force=True)
    # werkzeug sets its own logger to INFO when unset, so the root level alone would not quiet it.
    for name in QUIET_LIBRARIES + (("werkzeug",) if quiet else ()):
        logging.getLogger(name).setLevel(logging.WARNING)
