"""End to end on Pipedrive, amoCRM/Kommo and Bitrix24 sandboxes: a move into a gated stage with the
portrait empty is reverted through each CRM's API and the owner gets a task there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.sandbox.scenario import Scenario
from service.config import Settings
from service.demo_crms import configure_gate, scenario_of
from service.harness import LiveService
from service.runtime import Runtime
from tests.conftest import make_key
from tests.e2e.conftest import wait_until

OTHER_CRMS = ("amocrm", "bitrix24", "pipedrive")  # HubSpot has the e2e tests of its own


@pytest.fixture(params=OTHER_CRMS)
def crm(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A started sandbox of one CRM."""
    scenario = scenario_of(request.param)
    yield scenario
    scenario.stop()


@dataclass
class Setup:
    """The service configured for one CRM: a gate on the second open stage requiring company size."""

    crm: Scenario
    api: httpx.Client
    runtime: Runtime
    connection_id: int
    pipeline: str
    stages: list[str]


@pytest.fixture
def setup(crm: Scenario, runtime: Runtime, settings: Settings) -> Iterator[Setup]:
    """Qualify serving on loopback, connected to the CRM's sandbox, with one gate."""
    service = LiveService(settings, runtime=runtime, migrate=False)
    base = service.start()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {make_key(runtime, 'admin')}"},
                       timeout=10)
    try:
        configured = configure_gate(api, crm)
        yield Setup(crm, api, runtime, configured.connection_id, configured.pipeline, configured.stages)
    finally:
        api.close()
        service.stop()


def blocked(setup: Setup) -> list[dict[str, Any]]:
    """The blocked transitions so far."""
    return [t for t in setup.api.get("/v1/transitions").json()["items"] if t["decision"] == "blocked"]


def new_deal(setup: Setup) -> str:
    """A deal created in the first stage and seen by Qualify."""
    deal = setup.crm.create(setup.pipeline, setup.stages[0])
    wait_until(lambda: any(r["external_id"] == deal for r in setup.api.get("/v1/records").json()["items"]))
    return deal


def test_a_forbidden_move_is_reverted_and_the_owner_gets_a_task(setup: Setup) -> None:
    crm, stages = setup.crm, setup.stages
    deal = new_deal(setup)
    crm.move(deal, setup.pipeline, stages[2])
    wait_until(lambda: crm.stage(deal) == stages[0] and crm.tasks(deal), timeout=10)
    found = blocked(setup)
    assert len(found) == 1
    assert found[0]["from_stage"] == stages[0] and found[0]["to_stage"] == stages[2]
    assert [i["field"] for i in found[0]["issues"]] == ["company_size"]
    assert len(crm.tasks(deal)) == 1


def test_a_move_whose_webhook_was_lost_is_reverted_by_the_next_sync(setup: Setup) -> None:
    crm, stages = setup.crm, setup.stages
    deal = new_deal(setup)
    assert run_sync(setup).status == "done"  # the baseline
    httpx.post(f"{crm.sandbox.base_url}/_sandbox/config", json={"webhook_url": None}).raise_for_status()
    crm.move(deal, setup.pipeline, stages[2])
    run = run_sync(setup)
    assert run.status == "done", run.last_error
    wait_until(lambda: crm.stage(deal) == stages[0] and crm.tasks(deal), timeout=10)
    assert [t["source"] for t in blocked(setup)] == ["sync"]
    assert run_sync(setup).status == "done"
    assert len(blocked(setup)) == 1 and len(crm.tasks(deal)) == 1


def run_sync(setup: Setup) -> Any:
    """Queue and run one sync of the connection; the finished run."""
    from service.models import SyncRun
    from service.services.sync_runs import queue_sync, run_queued_syncs

    run_id = queue_sync(setup.runtime, setup.connection_id, full=False, trigger="test")["id"]
    run_queued_syncs(setup.runtime)
    with setup.runtime.uow() as uow:
        return uow.session.get_one(SyncRun, run_id)


def test_bitrix24_offline_events_are_read_stored_cleared_and_gated(runtime: Runtime, settings: Settings) -> None:
    from adapters.sandbox.bitrix24 import Bitrix24Sandbox
    from service.demo_crms import Scenario
    from service.services.offline_events import pull_offline_events

    sb = Bitrix24Sandbox()
    sb.start()
    scenario = Scenario("bitrix24", sb, {"base_url": sb.base_url, "access_token": "sandbox-oauth-token",
                                         "application_token": "apptoken", "account_id": "sandbox-member"},
                        lambda p, s: str(sb.ui_create_deal({"TITLE": "Acme", "CATEGORY_ID": p, "STAGE_ID": s})),
                        lambda d, p, s: sb.ui_move_deal(d, s, p), sb.ui_update_deal,
                        lambda d: str(sb.deal(d)["STAGE_ID"]), sb.todos_for_deal)
    service = LiveService(settings, runtime=runtime, migrate=False)
    base = service.start()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {make_key(runtime, 'admin')}"},
                       timeout=10)
    try:
        configured = configure_gate(api, scenario)
        sb.set_offline(True)
        stages = configured.stages
        deal = scenario.create(configured.pipeline, stages[0])
        assert pull_offline_events(runtime) >= 1
        wait_until(lambda: any(r["external_id"] == deal for r in api.get("/v1/records").json()["items"]))
        scenario.move(deal, configured.pipeline, stages[2])
        assert pull_offline_events(runtime) >= 1
        wait_until(lambda: scenario.stage(deal) == stages[0] and scenario.tasks(deal), timeout=10)
        pull_offline_events(runtime)  # e.g. the echo of our own revert
        assert pull_offline_events(runtime) == 0  # read events were cleared in Bitrix24
        assert len(scenario.tasks(deal)) == 1
    finally:
        api.close()
        service.stop()
        sb.stop()
