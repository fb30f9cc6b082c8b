"""What differs between the CRMs on the service side: connection secrets, webhook URL, verifier, adapter.

Each CRM authenticates webhooks its own way (CRM-CONTRACTS.md §1): HubSpot signs with the app's
client secret; Pipedrive sends HTTP Basic credentials the admin sets on the webhook; amoCRM sends
nothing, so its webhook URL carries a secret Qualify generates; Bitrix24 puts the application token
in the body. This module turns a stored connection into the matching verifier and adapter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from adapters.amocrm_oauth import OAuthTokens
from adapters.base import CRMAdapter, WebhookVerifier
from adapters.kind import ConnectionSettings
from adapters.registry import kind_of
from service.errors import InvalidInputError

# Secrets an admin may send for a connection; all are stored encrypted and never returned.
SECRET_INPUTS = ("access_token", "client_secret", "refresh_token", "webhook_username", "webhook_password",
                 "application_token")


@dataclass(frozen=True)
class Kind:
    """One CRM's service-side rules."""

    default_base_url: str | None
    required: tuple[str, ...]  # secret inputs a new connection must carry
    webhook_token_param: str | None  # query parameter carrying Qualify's generated webhook token


KINDS: dict[str, Kind] = {
    "hubspot": Kind("https://api.hubapi.com", ("access_token", "client_secret"), None),
    "pipedrive": Kind(None, ("access_token", "webhook_password"), "token"),
    "amocrm": Kind(None, ("access_token",), "secret"),
    "bitrix24": Kind(None, ("application_token",), None),
}


def check_secrets(kind: str, given: dict[str, Any], base_url: str | None) -> None:
    """InvalidInputError naming the secrets this CRM needs that are missing."""
    missing = [name for name in KINDS[kind].required if not given.get(name)]
    if missing:
        raise InvalidInputError(f"A {kind} connection needs {', '.join(missing)}.",
                                {name: ["Required for this CRM."] for name in missing})
    try:
        kind_of(kind).check_settings(base_url, given)
    except ValueError as exc:
        raise InvalidInputError(str(exc), {"access_token": [str(exc)]}) from None


def new_webhook_token(kind: str) -> str | None:
    """A fresh unguessable webhook token for CRMs whose webhooks carry no signature."""
    return secrets.token_urlsafe(24) if KINDS[kind].webhook_token_param else None


def webhook_query(kind: str, stored: dict[str, Any]) -> str:
    """The query string the CRM must call the webhook URL with ('' when it needs none)."""
    param = KINDS[kind].webhook_token_param
    return f"?{param}={stored['webhook_token']}" if param and stored.get("webhook_token") else ""


def settings_of(connection: Any, stored: dict[str, Any]) -> ConnectionSettings:
    """What the adapters know about a stored connection, its decrypted secrets included."""
    return ConnectionSettings(kind=connection.kind, base_url=connection.base_url, account_id=connection.account_id,
                              app_id=connection.app_id, signature_versions=tuple(connection.signature_versions or ()),
                              secrets=stored)


def build_verifier(connection: Any, stored: dict[str, Any], max_age_seconds: int) -> WebhookVerifier:
    """The webhook verifier of a stored connection (it refuses deliveries for another account)."""
    return kind_of(connection.kind).build_verifier(settings_of(connection, stored), max_age_seconds)


def build_adapter(connection: Any, stored: dict[str, Any], **kwargs: Any) -> CRMAdapter:
    """The CRM adapter of a stored connection (`kwargs`: limiter, transport, token_store); CRMAuthError when
    its settings cannot work."""
    return kind_of(connection.kind).build_adapter(settings_of(connection, stored), **kwargs)


def tokens_of(stored: dict[str, Any]) -> OAuthTokens:
    """The OAuth tokens kept in a connection's encrypted secrets."""
    return OAuthTokens(access_token=str(stored.get("access_token", "")), refresh_token=stored.get("refresh_token"),
                       expires_at=stored.get("token_expires_at"))
