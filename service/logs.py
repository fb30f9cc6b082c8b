"""Where logs go and what they may never carry: every record goes to stderr through one filter that replaces
secrets (API keys, bearer tokens, webhook tokens in URLs, and each CRM's own patterns from the registry, e.g.
Bitrix24's incoming-webhook code) before it is written.

Two formats (`QUALIFY_LOG_FORMAT`): `text`, one readable line per record, and `json`, one JSON object per line
rendered by structlog. Both carry what `service.log_context` bound (the request id, the event or action being
worked on); in JSON every string value is redacted once more after rendering the traceback, so a secret cannot
reach the output through a field the filter did not format.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
# Secrets of any CRM or of Qualify itself that may end up in a message, an exception or a URL.
GENERIC_SECRETS = (
    re.compile(r"qk_[0-9a-f]{8}_[A-Za-z0-9_-]+"),  # Qualify API keys
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)([?&](?:secret|token|access_token|refresh_token|application_token|api_token)=)[^&\s\"']+"),
)
QUIET_LIBRARIES = ("apscheduler", "alembic.runtime.plugins", "httpx", "httpcore")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


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


class ContextFilter(logging.Filter):
    """Puts the bound log context on a text record as ` [request_id=… event_id=…]` (empty when none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set `record.context`; never drops the record."""
        values = structlog.contextvars.get_contextvars()
        record.context = (" [" + " ".join(f"{k}={v}" for k, v in values.items()) + "]") if values else ""
        return True


def secret_patterns() -> tuple[re.Pattern[str], ...]:
    """The generic patterns and every registered CRM's own."""
    from adapters.registry import REGISTRY

    return GENERIC_SECRETS + tuple(p for kind in REGISTRY.values() for p in kind.secret_patterns)


def _redacted(value: Any, patterns: tuple[re.Pattern[str], ...]) -> Any:
    if isinstance(value, str):
        return redact(value, patterns)
    if isinstance(value, dict):
        return {key: _redacted(item, patterns) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, patterns) for item in value]
    return value


def _keep_redacted_traceback(logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # The formatter would render exc_info again, from the live exception: use the text SecretFilter redacted.
    record = event.get("_record")
    if event.pop("exc_info", None) is not None and record is not None and record.exc_text:
        event["exception"] = record.exc_text
    if record is not None:
        event["pid"] = record.process
        # What another handler's formatter left on the record (the message again, its time) is no extra field.
        for key in ("message", "asctime"):
            if key in event and event[key] == getattr(record, key, None):
                del event[key]
    return event


def json_formatter(patterns: tuple[re.Pattern[str], ...]) -> logging.Formatter:
    """structlog's formatter rendering stdlib records as one JSON object each: timestamp, level, logger,
    event (the message), the bound context, the record's extras, pid, and the redacted traceback."""

    def redact_all(logger: Any, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return {key: _redacted(value, patterns) for key, value in event.items()}

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            _keep_redacted_traceback,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_all,
            structlog.processors.JSONRenderer(default=str),
        ],
    )


def prepare_handler(handler: logging.Handler, fmt: str, patterns: tuple[re.Pattern[str], ...]) -> logging.Handler:
    """Give `handler` the secret filter (first), the context and the formatter of `fmt` (text or json)."""
    handler.addFilter(SecretFilter(patterns))
    if fmt == "json":
        handler.setFormatter(json_formatter(patterns))
    else:
        handler.addFilter(ContextFilter())
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(level: str | int, *, quiet: bool = False, fmt: str = "text") -> None:
    """Send every log record to stderr through the secret filter, at `level` (WARNING when `quiet`), as text or
    JSON (`fmt`); the libraries that log each request (httpx: every CRM URL) or each tick log warnings only.
    structlog's own loggers (`structlog.get_logger`) hand their records to the same handler."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    handler = prepare_handler(logging.StreamHandler(sys.stderr), fmt, secret_patterns())
    logging.basicConfig(level=logging.WARNING if quiet else level, handlers=[handler], force=True)
    structlog.configure(
        processors=[structlog.stdlib.PositionalArgumentsFormatter(), structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # werkzeug sets its own logger to INFO when unset, so the root level alone would not quiet it.
    for name in QUIET_LIBRARIES + (("werkzeug",) if quiet else ()):
        logging.getLogger(name).setLevel(logging.WARNING)
