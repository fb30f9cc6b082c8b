"""gunicorn's access log without secrets: the query string of webhook URLs (amoCRM's `secret`, Pipedrive's
`token` authenticate those CRMs' deliveries) and the Authorization header are never written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

WEBHOOK_PATHS = "/v1/webhooks/"
REDACTED = "[redacted]"
SECRET_HEADERS = ("{authorization}i", "{cookie}i")


def redacted_uri(raw_uri: str) -> str:
    """The request URI with the query string of a webhook path replaced."""
    path, mark, _query = raw_uri.partition("?")
    return f"{path}?{REDACTED}" if mark and path.startswith(WEBHOOK_PATHS) else raw_uri


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger whose access-log atoms carry no webhook secret or credential header."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict[str, Any]:
        """The atoms of gunicorn's access log format, redacted."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        raw_uri = environ.get("RAW_URI", "")
        safe_uri = redacted_uri(raw_uri)
        if safe_uri != raw_uri:
            atoms["r"] = f"{environ['REQUEST_METHOD']} {safe_uri} {environ['SERVER_PROTOCOL']}"
            atoms["q"] = REDACTED
            atoms["{query_string}e"] = REDACTED
            atoms["{raw_uri}e"] = safe_uri
        for name in SECRET_HEADERS:
            if name in atoms:
                atoms[name] = REDACTED
        for name in [k for k in atoms if k.startswith("{http_authorization}") or k.startswith("{http_cookie}")]:
            atoms[name] = REDACTED
        return atoms
