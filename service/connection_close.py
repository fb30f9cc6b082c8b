"""Closing the client connection after an answer that left the request body unread (413): the answer must
say `Connection: close`, or a client reusing the connection sends its next request into the rest of the
refused body. gunicorn decides that header itself, from its own request object, so `qualify serve` hands that
object to this thread before the app runs."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.exceptions import HTTPException

_current = threading.local()


def serving(request: Any) -> None:
    """gunicorn's pre_request hook: remember the server's request object of this thread."""
    _current.request = request


def error_headers(exc: HTTPException) -> dict[str, str]:
    """The headers an HTTP error answer needs: `Allow` for a 405; for a 413 (the body left unread, so the
    connection cannot carry another request) `Connection: close`, and the server is told to close."""
    headers: dict[str, str] = {}
    if exc.code == 413:
        close_after_response()
        headers["Connection"] = "close"
    valid_methods = getattr(exc, "valid_methods", None)
    if exc.code == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    return headers


def close_after_response() -> None:
    """Make the server close the connection after the current answer (and say so in its headers)."""
    request = getattr(_current, "request", None)
    if request is not None:
        request.force_close()
