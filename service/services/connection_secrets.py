"""The secrets of a connection as each CRM's registry entry declares them: which an admin may send, which a
new connection must carry, and the token Qualify generates for CRMs whose webhooks carry no signature (its
webhook URL then carries it)."""

from __future__ import annotations

import secrets
from typing import Any

from adapters.registry import REGISTRY, kind_of
from service.errors import InvalidInputError

# Every secret an admin may send for a connection of any CRM; all are stored encrypted and never returned.
SECRET_INPUTS = tuple(dict.fromkeys(name for kind in REGISTRY.values() for name in kind.secret_inputs))


def check_secrets(kind: str, given: dict[str, Any], base_url: str | None) -> None:
    """InvalidInputError naming the secrets this CRM needs that are missing, or what its settings check
    refuses."""
    missing = [name for name in kind_of(kind).required_secrets if not given.get(name)]
    if missing:
        raise InvalidInputError(f"A {kind} connection needs {', '.join(missing)}.",
                                {name: ["Required for this CRM."] for name in missing})
    try:
        kind_of(kind).check_settings(base_url, given)
    except ValueError as exc:
        raise InvalidInputError(str(exc), {"access_token": [str(exc)]}) from None


def new_webhook_token(kind: str) -> str | None:
    """A fresh unguessable webhook token for CRMs whose webhooks carry no signature."""
    return secrets.token_urlsafe(24) if kind_of(kind).webhook_token_param else None


def webhook_query(kind: str, stored: dict[str, Any]) -> str:
    """The query string the CRM must call the webhook URL with ('' when it needs none)."""
    param = kind_of(kind).webhook_token_param
    return f"?{param}={stored['webhook_token']}" if param and stored.get("webhook_token") else ""
