"""Fixtures for the Pipedrive tests: a started sandbox, an adapter on it, and a webhook receiver.

Import them explicitly in a test module (deliberately not a conftest.py):

    from tests.adapters.pipedrive_fixtures import adapter_fixture, pipedrive_fixture, receiver_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.base import Credentials
from adapters.http import RetryPolicy
from adapters.pipedrive import PipedriveAdapter
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_seed import KEYS
from tests.adapters.sandbox_fixtures import WebhookReceiver

TOKEN = "pd-test-token"
HOOK_USER, HOOK_PASSWORD, PATH_TOKEN = "hook-user", "hook-pass", "s3cr3t-path-token"
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[WebhookReceiver]:
    endpoint = WebhookReceiver()
    endpoint.start(f"/webhooks/pipedrive/{PATH_TOKEN}")
    yield endpoint
    endpoint.stop()


@pytest.fixture(name="pipedrive")
def pipedrive_fixture(receiver: WebhookReceiver) -> Iterator[PipedriveSandbox]:
    """A started sandbox whose webhooks go to `receiver`; retries are fast."""
    sandbox = PipedriveSandbox(api_token=TOKEN, webhook_url=receiver.url, webhook_user=HOOK_USER,
                               webhook_password=HOOK_PASSWORD)  # fmt: skip
    sandbox.settings.retry_delays = (0.05, 0.1, 0.2)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def make_adapter(sb: PipedriveSandbox, *, token: str = TOKEN, timeout: float = 5.0,
                 policy: RetryPolicy = FAST, **kw: Any) -> PipedriveAdapter:
    """An adapter pointed at the started sandbox `sb` (the caller closes it)."""
    return PipedriveAdapter(Credentials(base_url=sb.base_url, access_token=token), policy=policy,
                            timeout=timeout, **kw)  # fmt: skip


@pytest.fixture(name="adapter")
def adapter_fixture(pipedrive: PipedriveSandbox) -> Iterator[PipedriveAdapter]:
    with make_adapter(pipedrive) as adapter:
        yield adapter


def new_deal(sb: PipedriveSandbox, title: str = "Acme", **fields: Any) -> int:
    """A deal created in the UI in Sales / Lead In with an industry, unless overridden."""
    base: dict[str, Any] = {"title": title, "stage_id": 1, "value": 1000, "owner_id": 2, KEYS["industry"]: 31}
    return sb.ui_create_deal({**base, **fields})
