"""HubSpot's registry entry: how a stored HubSpot connection becomes its adapter, verifier, limiter and links."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from adapters.base import CRMAdapter, TokenStore, WebhookVerifier
from adapters.checks import not_readable_webhooks
from adapters.hubspot import HUBSPOT_API, HubSpotAdapter, hubspot_limiter_buckets
from adapters.hubspot_mapping import hubspot_user_of
from adapters.hubspot_webhooks import HubSpotWebhookVerifier
from adapters.kind import COMMON_KEPT_HEADERS, ConnectionSettings, CRMKind
from adapters.ratelimit import Limiter, shared_buckets


def build_adapter(settings: ConnectionSettings, *, limiter: Limiter | None, transport: httpx.BaseTransport | None,
                  token_store: TokenStore | None = None) -> CRMAdapter:
    """A HubSpotAdapter with the connection's access token (`token_store` is unused: tokens are not refreshed)."""
    return HubSpotAdapter(settings.credentials(), limiter=limiter, transport=transport)


def build_verifier(settings: ConnectionSettings, max_age_seconds: int) -> WebhookVerifier:
    """Signatures keyed with the app's client secret, in the accepted versions, from the connection's portal
    only; ValueError without a client secret."""
    return HubSpotWebhookVerifier(settings.secret("client_secret"),
                                  accept_versions=frozenset(settings.signature_versions or ("v3",)),
                                  max_age_seconds=max_age_seconds, portal_id=settings.account_id)  # fmt: skip


def deal_url(settings: ConnectionSettings, deal_id: str) -> str:
    """The deal's record page; ValueError without the portal id (account_id), which every link names."""
    if not settings.account_id:
        raise ValueError("a HubSpot link needs the portal id (the connection's account_id)")
    portal, deal = quote(settings.account_id, safe=""), quote(deal_id, safe="")
    return f"https://app.hubspot.com/contacts/{portal}/record/0-3/{deal}"


# The connection test's webhook check: the subscriptions are not readable with the connection's token.
WEBHOOKS_REASON = (
    "HubSpot keeps webhook subscriptions in the app's settings, which a private-app token cannot read: "
    "check there that deal creation and property changes (dealstage and every mapped property) are sent "
    "to the connection's webhook_url."
)


KIND = CRMKind(
    name=HubSpotAdapter.kind,
    title=HubSpotAdapter.title,
    default_base_url=HUBSPOT_API,
    required_secrets=("access_token", "client_secret"),
    secret_inputs=("access_token", "client_secret"),
    webhook_token_param=None,  # deliveries are signed with the client secret
    limiter=shared_buckets(hubspot_limiter_buckets),
    paging=HubSpotAdapter.paging,
    multi_separator=";",
    kept_headers=(*COMMON_KEPT_HEADERS, "x-hubspot-signature-version", "x-hubspot-request-timestamp"),
    adapter_factory=build_adapter,
    verifier_factory=build_verifier,
    deal_url=deal_url,
    sandbox="adapters.sandbox.hubspot",
    actor_user_id=hubspot_user_of,  # "userId:45678" -> "45678"; an app id, a workflow or an import: None
    check_webhooks=not_readable_webhooks(WEBHOOKS_REASON),
)
