"""What the registry declares about one CRM: the `CRMKind` entry and the small DTOs it is made of.

Each CRM's `adapters/<crm>_kind.py` builds its `KIND = CRMKind(...)`; `adapters/registry.py` only collects
them, and the service asks the registry instead of naming a vendor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from adapters.base import Credentials, CRMAdapter, OfflineEventSource, TokenStore, WebhookVerifier
from adapters.changes import numeric_user_id
from adapters.checks import UNREADABLE_WEBHOOKS, WebhookCheck
from adapters.errors import CRMAuthError
from adapters.ratelimit import BucketSpec, Limiter, LimitStore
from adapters.redaction import redact_text

# Delivery headers every CRM's are worth keeping with the raw body (x-qualify-source marks Qualify's own).
COMMON_KEPT_HEADERS = ("content-type", "user-agent", "x-qualify-source")


@dataclass(frozen=True)
class Paging:
    """How a CRM's modified-since search pages: what sync must know to walk it."""

    windowed_search: bool = False  # one query serves at most `result_cap` results: sync restarts it past them
    modification_ordered: bool = True  # pages come oldest-modified first, so the cursor may move after each
    page_size: int = 200  # deals sync asks for per page (and writes in one transaction)
    result_cap: int | None = None  # the most results one query serves; None when there is no cap


@dataclass(frozen=True)
class ConnectionSettings:
    """What adapters know about a stored connection: its CRM, address, account and decrypted secrets."""

    kind: str
    base_url: str
    account_id: str | None = None  # the CRM account its deliveries must belong to; None skips the check
    app_id: str | None = None  # the OAuth client id, where the CRM refreshes tokens with it
    signature_versions: tuple[str, ...] = ("v3",)  # webhook signature versions accepted (HubSpot)
    secrets: Mapping[str, Any] = field(default_factory=dict)

    def secret(self, name: str) -> str:
        """A secret as text; '' when it is absent."""
        value = self.secrets.get(name)
        return "" if value is None else str(value)

    def credentials(self) -> Credentials:
        """The adapter's credentials: base URL, access token, client secret and app id."""
        return Credentials(base_url=self.base_url, access_token=self.secret("access_token"),
                           client_secret=self.secrets.get("client_secret"), app_id=self.app_id)

    @property
    def origin(self) -> str:
        """scheme://host[:port] of base_url (never its path, which may hold a secret); ValueError when
        base_url is not an absolute URL."""
        parts = urlsplit(self.base_url)
        if not parts.scheme or not parts.hostname:
            raise ValueError("base_url is not an absolute URL")  # not quoted: its path may hold a secret
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class AdapterFactory(Protocol):
    """Builds one CRM's adapter from a stored connection."""

    def __call__(self, settings: ConnectionSettings, *, limiter: Limiter | None,
                 transport: httpx.BaseTransport | None, token_store: TokenStore | None) -> CRMAdapter:
        """The adapter; ValueError when the settings cannot work."""


class LimiterFactory(Protocol):
    """Builds the rate limiter of one connection."""

    def __call__(self, key: str, overrides: BucketSpec, store: LimitStore | None = None) -> Limiter:
        """The limiter of `key` (a connection): the CRM's default buckets, each bucket named in `overrides`
        replaced by its (limit, window seconds); kept in `store` for every process sharing it, or process-wide
        without one."""


VerifierFactory = Callable[[ConnectionSettings, int], WebhookVerifier]
SettingsCheck = Callable[[str | None, Mapping[str, Any]], None]
OfflineSourceFactory = Callable[[ConnectionSettings, CRMAdapter], OfflineEventSource | None]
DealUrl = Callable[[ConnectionSettings, str], str]
SplitBaseUrl = Callable[[str], tuple[str, dict[str, str]]]
ShownBaseUrl = Callable[[ConnectionSettings], str]
RedactBody = Callable[[bytes, Mapping[str, str]], bytes]
ActorUserId = Callable[[str | None], str | None]


def no_settings_check(base_url: str | None, secrets: Mapping[str, Any]) -> None:
    """The check of a CRM whose settings need nothing beyond the required secrets."""


def no_offline_source(settings: ConnectionSettings, adapter: CRMAdapter) -> None:
    """The offline source of a CRM that keeps no queue of events to read: none."""


def base_url_as_given(url: str) -> tuple[str, dict[str, str]]:
    """The split of a CRM whose base URLs hold no secret: the whole URL is stored, nothing encrypted."""
    return url, {}


def stored_base_url(settings: ConnectionSettings) -> str:
    """The base URL shown for a CRM whose base URLs hold no secret: as stored."""
    return settings.base_url


def body_as_sent(body: bytes, headers: Mapping[str, str]) -> bytes:
    """The stored raw body of a CRM whose deliveries carry no secret in their body: unchanged."""
    return body


@dataclass(frozen=True)
class CRMKind:
    """One CRM, declared once: everything the service needs to connect it without naming it."""

    name: str  # the connection's `kind`, e.g. "hubspot"
    title: str  # the name people know it by, e.g. "HubSpot"
    default_base_url: str | None  # the API address when a connection gives none; None: base_url is required
    required_secrets: tuple[str, ...]  # secret inputs a new connection must carry
    secret_inputs: tuple[str, ...]  # every secret input it accepts (stored encrypted, never shown)
    webhook_token_param: str | None  # query parameter carrying Qualify's generated webhook token; None: not needed
    # (key, overrides, store) -> the limiter shared by every adapter of that key (a connection): in `store` by
    # every process using it, or in this process without one (see LimiterFactory).
    limiter: LimiterFactory
    paging: Paging  # how its modified-since search pages
    multi_separator: str  # what joins the values of a multi-select property
    kept_headers: tuple[str, ...]  # lowercase delivery headers stored with the raw body
    adapter_factory: AdapterFactory  # called through build_adapter
    verifier_factory: VerifierFactory  # called through build_verifier
    deal_url: DealUrl  # (settings, deal id) -> the deal's page in the CRM; ValueError when settings lack the account
    sandbox: str  # dotted path of its simulator: run_forever(host, port, webhook_url, **options), demo_scenario()
    check_settings: SettingsCheck = no_settings_check  # (base_url, secrets) -> None, or ValueError saying what is wrong
    # (settings, its adapter) -> where events missed by webhooks wait to be read, or None.
    offline_source: OfflineSourceFactory = no_offline_source
    # A base URL as an admin gives it -> (the part stored in plain text and shown, secrets stored encrypted, which
    # the adapters then find among ConnectionSettings.secrets), e.g. Bitrix24's incoming-webhook code.
    split_base_url: SplitBaseUrl = base_url_as_given
    shown_base_url: ShownBaseUrl = stored_base_url  # (settings) -> the base URL as the API shows it, secrets masked
    # (raw delivery body, its headers) -> the body as it may be stored: secrets the CRM sends in it replaced.
    redact_body: RedactBody = body_as_sent
    # Regexes whose every match in a text (a log line, an error) is a secret, to be replaced by "[redacted]"
    # (adapters.redaction.redact_text); its adapter already redacts its own errors with them.
    secret_patterns: tuple[re.Pattern[str], ...] = ()
    # An actor as events (`WebhookEvent.source_id`) and stage history (`StageChange.source_id`) carry it -> the CRM
    # user id behind it (`OwnerInfo.user_id`), or None for an app, a workflow, an import or no one. By default the
    # value as given when it is ASCII digits (adapters.changes.numeric_user_id).
    actor_user_id: ActorUserId = numeric_user_id
    # (adapter, the webhook URL Qualify expects) -> the connection test's "webhooks" check (adapters.checks); by
    # default skipped, for a CRM whose subscriptions the connection's credentials cannot read.
    check_webhooks: WebhookCheck = UNREADABLE_WEBHOOKS

    def build_adapter(self, settings: ConnectionSettings, *, limiter: Limiter | None,
                      transport: httpx.BaseTransport | None, token_store: TokenStore | None = None) -> CRMAdapter:
        """The adapter of a stored connection (no request made yet); `token_store` keeps refreshed OAuth tokens
        where the CRM rotates them. Raises CRMAuthError when the settings cannot work (e.g. saved before a check
        existed) and ValueError for settings of another kind."""
        self._check_kind(settings)
        try:
            return self.adapter_factory(settings, limiter=limiter, transport=transport, token_store=token_store)
        except ValueError as exc:
            raise CRMAuthError(f"The connection's settings are incomplete: {exc}") from None

    def build_verifier(self, settings: ConnectionSettings, max_age_seconds: int) -> WebhookVerifier:
        """The webhook verifier of a stored connection; it also refuses deliveries for another account than
        `settings.account_id` (wrong_account). Raises ValueError when the stored secrets cannot verify anything
        or the settings are of another kind."""
        self._check_kind(settings)
        return self.verifier_factory(settings, max_age_seconds)

    def redact(self, text: str) -> str:
        """`text` with every match of the CRM's secret_patterns replaced by "[redacted]"."""
        return redact_text(text, self.secret_patterns)

    def _check_kind(self, settings: ConnectionSettings) -> None:
        if settings.kind != self.name:
            raise ValueError(f"settings of a {settings.kind!r} connection given to the {self.name!r} kind")
