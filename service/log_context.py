"""What every log line of the current unit of work carries: the request id, and the event or outbox action being
worked on. The values live in context variables (structlog's), so a web request's thread, the embedded worker's
thread and a standalone worker each carry their own.

The request id travels with the work: intake stores the webhook request's id on each event it stores (a column
default, `current_request_id`), the worker binds it again when it processes that event, the outbox actions it
decides get it the same way, and the worker binds it once more when it delivers them. One id then finds every
line from the CRM's delivery to the revert in the CRM.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog


def bind(**values: Any) -> None:
    """Add `values` (None values are left out) to every later log line of this context."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear() -> None:
    """Forget every bound value (a new request begins)."""
    structlog.contextvars.clear_contextvars()


def bound() -> dict[str, Any]:
    """The values bound in this context."""
    return structlog.contextvars.get_contextvars()


def current_request_id() -> str | None:
    """The request id of the work in hand, if any (the column default of stored events and outbox actions)."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value)[:64] if value else None


@contextmanager
def scope() -> Iterator[None]:
    """Values bound inside the block are forgotten when it ends; the ones bound before are kept."""
    saved = structlog.contextvars.get_contextvars()
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**saved)
