"""Which adapter and webhook verifier serve which CRM kind: a plain dict, nothing built at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.base import Credentials, CRMAdapter, WebhookVerifier
from adapters.hubspot import HubSpotAdapter
from adapters.hubspot_webhooks import HubSpotWebhookVerifier


class UnknownCRM(KeyError):
    """No adapter or verifier is registered for this CRM kind."""


ADAPTERS: dict[str, Callable[..., CRMAdapter]] = {"hubspot": HubSpotAdapter}
VERIFIERS: dict[str, Callable[..., WebhookVerifier]] = {"hubspot": HubSpotWebhookVerifier}


def adapter_for(kind: str, credentials: Credentials, **kw: Any) -> CRMAdapter:
    """A new adapter for `kind` (kw: limiter, policy, timeout, transport); raises UnknownCRM."""
    try:
        factory = ADAPTERS[kind]
    except KeyError:
        raise UnknownCRM(f"no CRM adapter for kind {kind!r}") from None
    return factory(credentials, **kw)


def verifier_for(kind: str, secret: str, **kw: Any) -> WebhookVerifier:
    """A webhook verifier for `kind` keyed with the app's client secret; raises UnknownCRM."""
    try:
        factory = VERIFIERS[kind]
    except KeyError:
        raise UnknownCRM(f"no webhook verifier for kind {kind!r}") from None
    return factory(secret, **kw)
