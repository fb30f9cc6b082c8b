"""amoCRM / Kommo's registry entry: how a stored amoCRM connection becomes its adapter, verifier, limiter and links."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import httpx

from adapters.amocrm import AmoCRMAdapter, amocrm_limiter_buckets
from adapters.amocrm_webhooks import AmoCRMWebhookVerifier
from adapters.base import CRMAdapter, TokenStore, WebhookVerifier
from adapters.checks import not_readable_webhooks
from adapters.kind import COMMON_KEPT_HEADERS, ConnectionSettings, CRMKind
from adapters.ratelimit import Limiter, shared_buckets
from adapters.redaction import query_secret


def build_adapter(settings: ConnectionSettings, *, limiter: Limiter | None, transport: httpx.BaseTransport | None,
                  token_store: TokenStore | None = None) -> CRMAdapter:
    """An AmoCRMAdapter; it refreshes through `token_store` only when a refresh token is stored (a long-lived
    token is used as it is)."""
    store = token_store if settings.secrets.get("refresh_token") else None
    return AmoCRMAdapter(settings.credentials(), token_store=store, limiter=limiter, transport=transport)


def subdomain_of(base_url: str) -> str | None:
    """The account's subdomain in https://<subdomain>.amocrm.ru (or .kommo.com); None for an IP address."""
    host = urlsplit(base_url).hostname or ""
    # A sandbox on an IP address (or localhost) has no subdomain to check.
    if not host or "." not in host or host.replace(".", "").isdigit() or ":" in host:
        return None
    return host.split(".")[0]


def build_verifier(settings: ConnectionSettings, max_age_seconds: int) -> WebhookVerifier:
    """The generated URL secret, the account's subdomain (from base_url) and account id; ValueError without
    the secret. `max_age_seconds` is unused: amoCRM dates nothing it sends."""
    return AmoCRMWebhookVerifier(url_secret=settings.secret("webhook_token"), subdomain=subdomain_of(settings.base_url),
                                 account_id=settings.account_id)  # fmt: skip


def deal_url(settings: ConnectionSettings, deal_id: str) -> str:
    """The lead's card on the account's own domain (https://<subdomain>.amocrm.ru/leads/detail/<id>)."""
    return f"{settings.origin}/leads/detail/{quote(deal_id, safe='')}"


# The connection test's webhook check: the subscriptions are not readable with the connection's token.
WEBHOOKS_REASON = (
    "Check in amoCRM/Kommo (Settings > Integrations > Webhooks) that lead status and field changes are "
    "sent to the connection's webhook_url (it carries the token Qualify checks)."
)


KIND = CRMKind(
    name=AmoCRMAdapter.kind,
    title=AmoCRMAdapter.title,
    default_base_url=None,  # the account's domain: https://<subdomain>.amocrm.ru or .kommo.com
    required_secrets=("access_token",),
    secret_inputs=("access_token", "refresh_token", "client_secret"),
    webhook_token_param="secret",
    limiter=shared_buckets(amocrm_limiter_buckets),
    paging=AmoCRMAdapter.paging,
    multi_separator=",",
    kept_headers=COMMON_KEPT_HEADERS,
    adapter_factory=build_adapter,
    verifier_factory=build_verifier,
    deal_url=deal_url,
    sandbox="adapters.sandbox.amocrm",
    secret_patterns=(query_secret("secret"),),  # the token of Qualify's webhook URL, its webhooks' only authentication
    check_webhooks=not_readable_webhooks(WEBHOOKS_REASON),
)
