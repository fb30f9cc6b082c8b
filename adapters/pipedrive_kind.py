"""Pipedrive's registry entry: how a stored Pipedrive connection becomes its adapter, verifier, limiter and links."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from adapters.base import CRMAdapter, TokenStore, WebhookVerifier
from adapters.kind import COMMON_KEPT_HEADERS, ConnectionSettings, CRMKind
from adapters.pipedrive import PIPEDRIVE_API, PipedriveAdapter, pipedrive_limiter_buckets
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier
from adapters.ratelimit import Limiter, shared_buckets
from adapters.redaction import query_secret

WEBHOOK_USER = "qualify"  # the HTTP Basic user set on the webhook when the connection names none


def build_adapter(settings: ConnectionSettings, *, limiter: Limiter | None, transport: httpx.BaseTransport | None,
                  token_store: TokenStore | None = None) -> CRMAdapter:
    """A PipedriveAdapter with the connection's API token (`token_store` is unused: tokens are not refreshed)."""
    return PipedriveAdapter(settings.credentials(), limiter=limiter, transport=transport)


def build_verifier(settings: ConnectionSettings, max_age_seconds: int) -> WebhookVerifier:
    """HTTP Basic auth with the webhook's user and password, the generated URL token, and the connection's
    company only; ValueError without a webhook password. `max_age_seconds` is unused: nothing is dated."""
    return PipedriveWebhookVerifier(username=settings.secret("webhook_username") or WEBHOOK_USER,
                                    password=settings.secret("webhook_password"),
                                    path_token=settings.secrets.get("webhook_token"),
                                    company_id=settings.account_id)  # fmt: skip


def deal_url(settings: ConnectionSettings, deal_id: str) -> str:
    """The deal's page on the company domain of base_url; ValueError when base_url is the shared API host."""
    origin = settings.origin
    if origin.rstrip("/") == PIPEDRIVE_API:
        raise ValueError("a Pipedrive link needs the company domain as base_url (https://<company>.pipedrive.com)")
    return f"{origin}/deal/{quote(deal_id, safe='')}"


KIND = CRMKind(
    name=PipedriveAdapter.kind,
    title=PipedriveAdapter.title,
    default_base_url=None,  # the company domain: https://<company>.pipedrive.com
    required_secrets=("access_token", "webhook_password"),
    secret_inputs=("access_token", "webhook_username", "webhook_password"),
    webhook_token_param="token",
    limiter=shared_buckets(pipedrive_limiter_buckets),
    paging=PipedriveAdapter.paging,
    multi_separator=",",
    kept_headers=COMMON_KEPT_HEADERS,
    adapter_factory=build_adapter,
    verifier_factory=build_verifier,
    deal_url=deal_url,
    sandbox="adapters.sandbox.pipedrive",
    secret_patterns=(query_secret("token"),),  # the token of Qualify's webhook URL, its webhooks' only authentication
)
