"""A live stack for end-to-end tests: the HubSpot sandbox and Qualify on loopback ports."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.sandbox.hubspot import HubSpotSandbox
from service.config import Settings
from service.demo import CLIENT_SECRET, TOKEN, configure
from service.harness import LiveService
from service.runtime import Runtime
from tests.conftest import make_key

MANAGER = 45678


@dataclass
class Stack:
    """What an end-to-end test drives and inspects."""

    sandbox: HubSpotSandbox
    service: LiveService
    api: httpx.Client
    connection_id: int
    webhook_url: str

    @property
    def runtime(self) -> Runtime:
        """The service's runtime (database access for assertions)."""
        return self.service.runtime

    def sandbox_config(self, **values: Any) -> None:
        """Change the sandbox's webhook settings over its control API."""
        httpx.post(f"{self.sandbox.base_url}/_sandbox/config", json=values).raise_for_status()

    def new_deal(self, name: str = "Acme", **properties: str) -> str:
        """A deal created by the manager in the first stage, processed by Qualify."""
        deal = self.sandbox.ui_create_deal({"dealname": name, "dealstage": "appointmentscheduled",
                                            "pipeline": "default", "hubspot_owner_id": "101", **properties},
                                           user_id=MANAGER)
        wait_until(lambda: self.record(deal) is not None)
        return deal

    def record(self, deal: str) -> dict[str, Any] | None:
        """The record Qualify keeps for a deal, via the API."""
        items = self.api.get("/v1/records", params={"connection_id": self.connection_id}).json()["items"]
        return next((r for r in items if r["external_id"] == deal), None)

    def transitions(self, decision: str | None = None) -> list[dict[str, Any]]:
        """Every transition, optionally of one decision."""
        params: dict[str, Any] = {"page_size": 500}
        if decision:
            params["decision"] = decision
        return list(self.api.get("/v1/transitions", params=params).json()["items"])

    def stage(self, deal: str) -> str:
        """The deal's stage in the sandbox."""
        return str(self.sandbox.deal(deal)["properties"]["dealstage"])

    def reverts(self, deal: str) -> list[dict[str, Any]]:
        """PATCH calls Qualify made to the deal in the sandbox."""
        return self.sandbox.api_calls(method="PATCH", path_prefix=f"/crm/v3/objects/deals/{deal}")


def run_qualify(stack: Stack, *args: str, crash_at: str | None = None,
                extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a `qualify` command in a real subprocess on the stack's database (optionally dying at a crash point)."""
    settings = stack.runtime.settings
    env = {
        **os.environ,
        "QUALIFY_DATABASE_URL": stack.runtime.engine.url.render_as_string(hide_password=False),
        "QUALIFY_SECRET_KEY": settings.secret_key,
        "QUALIFY_INSTANCE_PATH": settings.instance_path,
        "QUALIFY_EVENT_STALE_SECONDS": "1",
        "QUALIFY_OUTBOX_IN_FLIGHT_STALE_SECONDS": "1",
        "QUALIFY_LOG_LEVEL": "WARNING",
        "QUALIFY_ALLOW_LOOPBACK_CRM": "1",
        **(extra_env or {}),
    }
    env.pop("QUALIFY_CRASH_AT", None)
    if crash_at:
        env["QUALIFY_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, timeout=120,
                          capture_output=True, text=True)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within the timeout")


def start_stack(runtime: Runtime, settings: Settings, *, with_worker: bool = True) -> Iterator[Stack]:
    """Start the sandbox and the service, configure the demo fields and gates."""
    sandbox = HubSpotSandbox(client_secret=CLIENT_SECRET, access_token=TOKEN)
    sandbox_url = sandbox.start()
    service = LiveService(settings, runtime=runtime, with_worker=with_worker, migrate=False)
    base = service.start()
    key = make_key(runtime, "admin")
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    try:
        cid = configure(api, sandbox_url, str(sandbox.portal_id))
        hook = f"{base}/v1/webhooks/{cid}"
        stack = Stack(sandbox, service, api, cid, hook)
        stack.sandbox_config(webhook_url=hook)
        yield stack
    finally:
        api.close()
        service.stop()
        sandbox.stop()


@pytest.fixture
def e2e_settings(settings: Settings) -> Settings:
    """Settings with short stale timeouts so crash recovery is quick to observe."""
    return dataclasses.replace(settings, event_stale_seconds=1.0, outbox_in_flight_stale_seconds=1.0)


@pytest.fixture
def stack(runtime: Runtime, e2e_settings: Settings) -> Iterator[Stack]:
    """The live stack with the worker running inside the service."""
    runtime.settings = e2e_settings
    yield from start_stack(runtime, e2e_settings)


@pytest.fixture
def idle_stack(runtime: Runtime, e2e_settings: Settings) -> Iterator[Stack]:
    """The live stack without a worker: tests run workers themselves."""
    runtime.settings = e2e_settings
    yield from start_stack(runtime, e2e_settings, with_worker=False)
