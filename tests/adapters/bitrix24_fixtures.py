"""Fixtures for the Bitrix24 tests: a started sandbox (events to a loopback receiver) and adapters.

Import them explicitly (deliberately not a conftest.py):

    from tests.adapters.bitrix24_fixtures import bitrix24_fixture, receiver_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.base import Credentials
from adapters.bitrix24 import Bitrix24Adapter
from adapters.http import RetryPolicy
from adapters.leaky_bucket import LeakyBucket
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from tests.adapters.sandbox_fixtures import WebhookReceiver, receiver_fixture

APP_TOKEN = "test-app-token"
MEMBER_ID = "test-member-0001"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
AUTH_STYLES = ("webhook", "oauth")

__all__ = ["APP_TOKEN", "AUTH_STYLES", "FAST", "MEMBER_ID", "bitrix24_fixture", "make_adapter", "receiver_fixture"]


@pytest.fixture(name="bitrix24")
def bitrix24_fixture(receiver: WebhookReceiver) -> Iterator[Bitrix24Sandbox]:
    """A started sandbox with a roomy leaky bucket whose events go to `receiver`."""
    sandbox = Bitrix24Sandbox(application_token=APP_TOKEN, member_id=MEMBER_ID, webhook_url=receiver.url,
                              leaky_bucket=(50.0, 500))  # fmt: skip
    sandbox.start()
    yield sandbox
    sandbox.stop()


def make_adapter(sandbox: Bitrix24Sandbox, style: str = "webhook", *, timeout: float = 5.0,
                 limiter: LeakyBucket | None = None, policy: RetryPolicy = FAST) -> Bitrix24Adapter:  # fmt: skip
    """An adapter over the incoming webhook URL ("webhook") or the portal URL + OAuth token ("oauth")."""
    if style == "webhook":
        credentials = Credentials(base_url=sandbox.incoming_webhook_url, access_token="")
    else:
        credentials = Credentials(base_url=sandbox.base_url, access_token=sandbox.access_token)
    return Bitrix24Adapter(credentials, limiter=limiter or LeakyBucket(1000.0, 1000), policy=policy,
                           timeout=timeout)  # fmt: skip
