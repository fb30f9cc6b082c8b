"""Bitrix24's secrets outside the encrypted store: the incoming-webhook code in a base URL, and the auth
tokens in every event body.

An incoming webhook (``https://portal/rest/<user>/<code>/``) is a full REST credential: its ``rest/<user>/<code>``
path is kept encrypted in the connection's secrets as `webhook_path` and only the portal is stored in plain
text (`split_base_url`); the API shows the URL with the code masked (`shown_base_url`); log lines and errors are
redacted with `SECRET_PATTERNS`. Event bodies carry `auth[application_token]` (and, for apps, OAuth tokens):
`redact_body` blanks them before the raw body is stored (events/safe-event-handlers.md: "never log it").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

from adapters.formdata import split_key
from adapters.kind import ConnectionSettings
from adapters.redaction import REDACTED

WEBHOOK_PATH = "webhook_path"  # the secret holding "rest/<user>/<code>"
MASK = "•••"
_INCOMING = re.compile(r"^(?P<prefix>.*?)/rest/(?P<user>[0-9]+)/(?P<code>[^/]+)/?$")
_STORED = re.compile(r"rest/(?P<user>[0-9]+)/(?P<code>[^/?#\s]+)")
# Every match is a webhook's "<user>/<code>" after "rest/" (also percent-encoded), in a URL or a stored path.
SECRET_PATTERNS = (
    re.compile(r"(?<=rest/)[0-9]+/[^/\s?#\"'<>&]+"),
    re.compile(r"(?<=rest%2[Ff])[0-9]+%2[Ff][^/%\s?#\"'<>&]+"),
)
_SECRET_AUTH_KEYS = frozenset({"application_token", "access_token", "refresh_token"})
_SECRET_WORDS = ("token", "secret", "password")
_REDACTED_VALUE = quote_plus(REDACTED).encode()


def split_base_url(url: str) -> tuple[str, dict[str, str]]:
    """(the part of a base URL safe to store and show, the secrets to store encrypted): an incoming-webhook URL
    ``https://portal/rest/1/abc/`` gives (``https://portal``, {"webhook_path": "rest/1/abc"}); any other URL
    (an OAuth portal) is returned unchanged with no secrets."""
    parts = urlsplit(url.strip())
    match = _INCOMING.match(parts.path)
    if not match or not parts.scheme or not parts.netloc:
        return url, {}
    public = urlunsplit((parts.scheme, parts.netloc, match["prefix"], "", ""))
    return public, {WEBHOOK_PATH: f"rest/{match['user']}/{match['code']}"}


def _stored_path(settings_path: str) -> re.Match[str] | None:
    return _STORED.fullmatch(settings_path.strip().strip("/"))


def rest_url(base_url: str, webhook_path: str) -> str:
    """The URL the adapter calls: the portal of `base_url` with the stored webhook path, or `base_url` as it is
    without one (an OAuth portal, or a legacy row whose base_url still holds the whole incoming webhook).
    Raises ValueError (never quoting the path) when the stored path is not ``rest/<user id>/<code>``."""
    if not webhook_path:
        return base_url
    if _stored_path(webhook_path) is None:
        raise ValueError("the stored Bitrix24 webhook path is not rest/<user id>/<code>")
    portal, _ = split_base_url(base_url)
    return f"{portal.rstrip('/')}/{webhook_path.strip().strip('/')}/"


def settings_rest_url(settings: ConnectionSettings) -> str:
    """rest_url of a stored connection."""
    return rest_url(settings.base_url, settings.secret(WEBHOOK_PATH))


def shown_base_url(settings: ConnectionSettings) -> str:
    """The base URL as the API shows it: the portal, and for an incoming webhook ``/rest/<user>/•••/`` (the
    user may show, the code never), whether the path is stored encrypted or still in a legacy base_url."""
    portal, parts = split_base_url(settings.base_url)
    match = _stored_path(settings.secret(WEBHOOK_PATH) or parts.get(WEBHOOK_PATH, ""))
    if match is None:
        return portal
    return f"{portal.rstrip('/')}/rest/{match['user']}/{MASK}/"


def webhook_code(url: str) -> str | None:
    """The code of an incoming-webhook URL, or None for any other URL."""
    match = _INCOMING.match(urlsplit(url.strip()).path)
    return match["code"] if match else None


def is_secret_auth_key(name: str) -> bool:
    """Whether `auth[name]` of an event body is a secret: the application and OAuth tokens, and any other key
    naming a token, secret or password."""
    lowered = name.strip().lower()
    return lowered in _SECRET_AUTH_KEYS or any(word in lowered for word in _SECRET_WORDS)


def _is_secret_field(raw_key: bytes) -> bool:
    try:
        path = split_key(unquote_plus(raw_key.decode("utf-8", "replace")))
    except ValueError:
        return False
    name = path[1] if len(path) > 1 else None
    return str(path[0]).strip().lower() == "auth" and name is not None and is_secret_auth_key(name)


def redact_body(body: bytes, headers: Mapping[str, str]) -> bytes:
    """An event body as it may be stored: the value of every secret `auth[...]` field replaced by REDACTED
    (form-encoded), every other byte as it came."""
    fields = body.split(b"&")
    kept = [key + b"=" + _REDACTED_VALUE if _is_secret_field(key) else field
            for field, key in ((field, field.partition(b"=")[0]) for field in fields)]  # fmt: skip
    return b"&".join(kept)
