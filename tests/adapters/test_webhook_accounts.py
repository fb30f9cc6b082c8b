"""Every CRM's verifier, built by the registry, enforces the connection's stored account id itself: a real
sandbox delivery is accepted for the account it belongs to and refused (wrong_account) for any other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from adapters.errors import WebhookAuthError
from adapters.kind import ConnectionSettings, CRMKind
from adapters.registry import REGISTRY
from adapters.sandbox.scenario import Scenario
from tests.adapters.sandbox_fixtures import Received, WebhookReceiver
from tests.adapters.scenario_fixtures import settings_of, started, webhook_path


@dataclass(frozen=True)
class Delivery:
    """One webhook request a CRM's sandbox made for a stage move, and the connection it was for."""

    kind: CRMKind
    scenario: Scenario
    request: Received

    def check(self, settings: ConnectionSettings) -> list[str | None]:
        """Verify and parse the delivery as the service would for `settings`; the events' accounts."""
        verifier = self.kind.build_verifier(settings, max_age_seconds=300)
        body = self.request.body.encode()
        verifier.verify(method=self.request.method, url=self.request.url, headers=self.request.headers, body=body,
                        now=time.time())  # fmt: skip
        return [event.account for event in verifier.parse(body, self.request.headers)]


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def delivery(request: pytest.FixtureRequest) -> Iterator[Delivery]:
    kind = REGISTRY[request.param]
    receiver = WebhookReceiver()
    url = receiver.start(webhook_path(kind))
    scenarios = started(kind)
    scenario = next(scenarios)
    try:
        httpx.post(f"{scenario.sandbox.base_url}/_sandbox/config", json={"webhook_url": url}).raise_for_status()
        adapter = kind.build_adapter(settings_of(scenario), limiter=None, transport=None)
        with adapter:
            pipeline = adapter.list_pipelines()[0]
        first, second = [stage.id for stage in pipeline.stages if not stage.is_closed][:2]
        deal = scenario.create(pipeline.id, first)
        scenario.move(deal, pipeline.id, second)
        yield Delivery(kind, scenario, receiver.wait_for(1, timeout=10.0)[0])
    finally:
        scenarios.close()
        receiver.stop()


def test_given_a_delivery_for_the_connections_account_then_accepted_and_every_event_names_it(
        delivery: Delivery) -> None:
    accounts = delivery.check(settings_of(delivery.scenario))

    assert accounts and None not in accounts


def test_given_a_delivery_for_another_account_then_wrong_account(delivery: Delivery) -> None:
    with pytest.raises(WebhookAuthError) as refused:
        delivery.check(settings_of(delivery.scenario, account_id="another-account-42"))

    assert refused.value.reason == "wrong_account"


def test_given_no_stored_account_id_then_the_account_is_not_checked(delivery: Delivery) -> None:
    assert delivery.check(settings_of(delivery.scenario, account_id=None))
