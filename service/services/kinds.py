"""What differs between the CRMs on the service side: connection secrets, webhook URL, verifier, adapter.

Each CRM authenticates webhooks its own way (CRM-CONTRACTS.md §1): HubSpot signs with the app's
client secret; Pipedrive sends HTTP Basic credentials the admin sets on the webhook; amoCRM sends
nothing, so its webhook URL carries a secret Qualify generates; Bitrix24 puts the application token
in the body. This module turns a stored connection into the matching verifier and adapter.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from adapters.amocrm import AmoCRMAdapter, amocrm_limiter_buckets
from adapters.amocrm_oauth import OAuthTokens
from adapters.amocrm_webhooks import AmoCRMWebhookVerifier
from adapters.base import Credentials, CRMAdapter, WebhookVerifier
from adapters.bitrix24 import Bitrix24Adapter
from adapters.bitrix24_mapping import endpoint_of
from adapters.bitrix24_webhooks import Bitrix24WebhookVerifier
from adapters.errors import CRMAuthError
from adapters.hubspot import HubSpotAdapter, hubspot_limiter_buckets
from adapters.hubspot_webhooks import HubSpotWebhookVerifier
from adapters.pipedrive import PipedriveAdapter, pipedrive_limiter_buckets
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier
from service.errors import InvalidInputError

# Secrets an admin may send for a connection; all are stored encrypted and never returned.
SECRET_INPUTS = ("access_token", "client_secret", "refresh_token", "webhook_username", "webhook_password",
                 "application_token")
PIPEDRIVE_WEBHOOK_USER = "qualify"


@dataclass(frozen=True)
class Kind:
    """One CRM's service-side rules."""

    default_base_url: str | None
    required: tuple[str, ...]  # secret inputs a new connection must carry
    webhook_token_param: str | None  # query parameter carrying Qualify's generated webhook token
    limiter_buckets: Callable[[], dict[str, tuple[int, float]]] | None


KINDS: dict[str, Kind] = {
    "hubspot": Kind("https://api.hubapi.com", ("access_token", "client_secret"), None, hubspot_limiter_buckets),
    "pipedrive": Kind(None, ("access_token", "webhook_password"), "token", pipedrive_limiter_buckets),
    "amocrm": Kind(None, ("access_token",), "secret", amocrm_limiter_buckets),
    "bitrix24": Kind(None, ("application_token",), None, None),  # the adapter's leaky bucket by default
}


def check_secrets(kind: str, given: dict[str, Any], base_url: str | None) -> None:
    """InvalidInputError naming the secrets this CRM needs that are missing."""
    missing = [name for name in KINDS[kind].required if not given.get(name)]
    if missing:
        raise InvalidInputError(f"A {kind} connection needs {', '.join(missing)}.",
                                {name: ["Required for this CRM."] for name in missing})
    if kind == "bitrix24" and base_url:
        try:
            endpoint_of(Credentials(base_url=base_url, access_token=str(given.get("access_token") or "")))
        except ValueError as exc:
            raise InvalidInputError(str(exc), {"access_token": [str(exc)]}) from None


def new_webhook_token(kind: str) -> str | None:
    """A fresh unguessable webhook token for CRMs whose webhooks carry no signature."""
    return secrets.token_urlsafe(24) if KINDS[kind].webhook_token_param else None


def webhook_query(kind: str, stored: dict[str, Any]) -> str:
    """The query string the CRM must call the webhook URL with ('' when it needs none)."""
    param = KINDS[kind].webhook_token_param
    return f"?{param}={stored['webhook_token']}" if param and stored.get("webhook_token") else ""


def build_verifier(connection: Any, stored: dict[str, Any], max_age_seconds: int) -> WebhookVerifier:
    """The webhook verifier of a stored connection."""
    kind = connection.kind
    if kind == "hubspot":
        return HubSpotWebhookVerifier(str(stored.get("client_secret", "")),
                                      accept_versions=frozenset(connection.signature_versions or ["v3"]),
                                      max_age_seconds=max_age_seconds)
    if kind == "pipedrive":
        return PipedriveWebhookVerifier(username=stored.get("webhook_username") or PIPEDRIVE_WEBHOOK_USER,
                                        password=str(stored["webhook_password"]),
                                        path_token=stored.get("webhook_token"))
    if kind == "amocrm":
        host = urlsplit(connection.base_url).hostname or ""
        # https://<subdomain>.amocrm.ru or .kommo.com; a sandbox on an IP address has no subdomain.
        subdomain = None if host.replace(".", "").isdigit() or ":" in host else host.split(".")[0]
        return AmoCRMWebhookVerifier(url_secret=str(stored["webhook_token"]), subdomain=subdomain,
                                     account_id=connection.account_id)
    portal = f"{urlsplit(connection.base_url).scheme}://{urlsplit(connection.base_url).netloc}"
    return Bitrix24WebhookVerifier(str(stored["application_token"]), member_id=connection.account_id, portal=portal)


def build_adapter(connection: Any, stored: dict[str, Any], **kwargs: Any) -> CRMAdapter:
    """The CRM adapter of a stored connection (`kwargs`: limiter, transport, token_store)."""
    credentials = Credentials(base_url=connection.base_url, access_token=str(stored.get("access_token", "")),
                              client_secret=stored.get("client_secret"), app_id=connection.app_id)
    token_store = kwargs.pop("token_store", None)
    try:
        if connection.kind == "amocrm":
            return AmoCRMAdapter(credentials, token_store=token_store if stored.get("refresh_token") else None,
                                 **kwargs)
        factory: dict[str, Callable[..., CRMAdapter]] = {
            "hubspot": HubSpotAdapter, "pipedrive": PipedriveAdapter, "bitrix24": Bitrix24Adapter}
        return factory[connection.kind](credentials, **kwargs)
    except ValueError as exc:  # settings the adapter cannot work with (e.g. saved before a check existed)
        raise CRMAuthError(f"The connection's settings are incomplete: {exc}") from None


def tokens_of(stored: dict[str, Any]) -> OAuthTokens:
    """The OAuth tokens kept in a connection's encrypted secrets."""
    return OAuthTokens(access_token=str(stored.get("access_token", "")), refresh_token=stored.get("refresh_token"),
                       expires_at=stored.get("token_expires_at"))
