"""Bitrix24's registry entry: how a stored Bitrix24 connection becomes its adapter, verifier, limiter, offline
event source and links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.base import Credentials, CRMAdapter, OfflineEventSource, TokenStore, WebhookVerifier
from adapters.bitrix24 import Bitrix24Adapter
from adapters.bitrix24_mapping import endpoint_of
from adapters.bitrix24_secrets import (
    SECRET_PATTERNS,
    WEBHOOK_PATH,
    redact_body,
    rest_url,
    settings_rest_url,
    shown_base_url,
    split_base_url,
)
from adapters.bitrix24_webhooks import Bitrix24WebhookVerifier
from adapters.checks import not_readable_webhooks
from adapters.kind import COMMON_KEPT_HEADERS, ConnectionSettings, CRMKind
from adapters.leaky_bucket import leaky_bucket_for, stored_leaky_bucket
from adapters.ratelimit import BucketSpec, Limiter, LimitStore


def shared_limiter(key: str, overrides: BucketSpec, store: LimitStore | None = None) -> Limiter:
    """The standard-plan leaky bucket of `key`: kept in `store` for every process using it, or process-wide
    without one. Bitrix24 counts every method in one counter per portal, not in windows, so (limit, window)
    overrides do not apply and are ignored."""
    return leaky_bucket_for(key) if store is None else stored_leaky_bucket(store, key)


def build_adapter(settings: ConnectionSettings, *, limiter: Limiter | None, transport: httpx.BaseTransport | None,
                  token_store: TokenStore | None = None) -> CRMAdapter:
    """A Bitrix24Adapter on the incoming webhook (the portal with the encrypted `webhook_path`, or a legacy base_url
    holding the whole URL) or the portal with its OAuth token (`token_store` is unused); ValueError for a portal
    URL without an access token or an unreadable webhook path."""
    credentials = Credentials(base_url=settings_rest_url(settings), access_token=settings.secret("access_token"))
    return Bitrix24Adapter(credentials, limiter=limiter, transport=transport)


def build_verifier(settings: ConnectionSettings, max_age_seconds: int) -> WebhookVerifier:
    """The application token, the portal's member_id (or domain), the portal base_url names, and events' `ts`
    within `max_age_seconds` of now; ValueError without the application token."""
    return Bitrix24WebhookVerifier(settings.secret("application_token"), account_id=settings.account_id,
                                   portal=settings.origin, max_age_seconds=max_age_seconds)  # fmt: skip


def check_settings(base_url: str | None, secrets: Mapping[str, Any]) -> None:
    """ValueError when base_url (with a stored `webhook_path`) is neither an incoming webhook
    (…/rest/<user>/<code>/) nor a portal given with an OAuth access token."""
    if base_url:
        url = rest_url(base_url, str(secrets.get(WEBHOOK_PATH) or ""))
        endpoint_of(Credentials(base_url=url, access_token=str(secrets.get("access_token") or "")))


def offline_source(settings: ConnectionSettings, adapter: CRMAdapter) -> OfflineEventSource | None:
    """The adapter itself when an OAuth access token is stored: incoming-webhook URLs cannot read offline
    events."""
    if settings.secrets.get("access_token") and isinstance(adapter, Bitrix24Adapter):
        return adapter
    return None


def deal_url(settings: ConnectionSettings, deal_id: str) -> str:
    """The deal's page on the portal (never the webhook path, which is a secret)."""
    return f"{settings.origin}/crm/deal/details/{quote(deal_id, safe='')}/"


# The connection test's webhook check: the subscriptions are not readable with the connection's token.
WEBHOOKS_REASON = (
    "Bitrix24 event handlers are bound per application; check that ONCRMDEALUPDATE and ONCRMDEALADD are "
    "sent to the connection's webhook_url, or that offline events are enabled."
)


KIND = CRMKind(
    name=Bitrix24Adapter.kind,
    title=Bitrix24Adapter.title,
    default_base_url=None,  # an incoming-webhook URL or the portal's address
    required_secrets=("application_token",),
    secret_inputs=("application_token", "access_token"),
    webhook_token_param=None,  # deliveries carry the application token in their body
    limiter=shared_limiter,
    paging=Bitrix24Adapter.paging,
    multi_separator=",",
    kept_headers=COMMON_KEPT_HEADERS,
    adapter_factory=build_adapter,
    verifier_factory=build_verifier,
    deal_url=deal_url,
    sandbox="adapters.sandbox.bitrix24",
    check_settings=check_settings,
    offline_source=offline_source,
    split_base_url=split_base_url,
    shown_base_url=shown_base_url,
    redact_body=redact_body,
    secret_patterns=SECRET_PATTERNS,
    check_webhooks=not_readable_webhooks(WEBHOOKS_REASON),
)
