"""Fixtures for the amoCRM tests: a started sandbox and adapters pointed at it.

Import them explicitly (deliberately not a conftest.py):

    from tests.adapters.amocrm_fixtures import amocrm_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.amocrm import AmoCRMAdapter
from adapters.amocrm_oauth import InMemoryTokenStore, OAuthTokens
from adapters.base import Credentials
from adapters.http import RetryPolicy
from adapters.ratelimit import RateLimiter
from adapters.sandbox.amocrm import AmoCRMSandbox

URL_SECRET = "url-secret-0123456789abcdef"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture(name="amocrm")
def amocrm_fixture() -> Iterator[AmoCRMSandbox]:
    """A started sandbox without a webhook URL."""
    sandbox = AmoCRMSandbox(url_secret=URL_SECRET)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def oauth_adapter(sb: AmoCRMSandbox, store: InMemoryTokenStore | None = None, **kw: Any) -> AmoCRMAdapter:
    """An adapter with a refreshable token store (client id/secret of the sandbox)."""
    store = store or InMemoryTokenStore(OAuthTokens(sb.access_token, sb.refresh_token, None))
    credentials = Credentials(base_url=sb.base_url, access_token="unused", client_secret=sb.client_secret,
                              app_id=sb.client_id)
    return AmoCRMAdapter(credentials, token_store=store, policy=kw.pop("policy", FAST),
                         redirect_uri="https://qualify.example/oauth", **kw)


def token_adapter(sb: AmoCRMSandbox, token: str | None = None, **kw: Any) -> AmoCRMAdapter:
    """An adapter with a long-lived token (no refresh possible)."""
    credentials = Credentials(base_url=sb.base_url, access_token=token or sb.access_token)
    return AmoCRMAdapter(credentials, policy=kw.pop("policy", FAST), **kw)


def fast_limiter() -> RateLimiter:
    """A limiter that never waits in tests that make many calls."""
    return RateLimiter({"default": (1000, 1.0)})
