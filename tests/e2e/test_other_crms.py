"""End to end on Pipedrive, amoCRM/Kommo and Bitrix24 sandboxes: a move into a gated stage with the
portrait empty is reverted through each CRM's API and the owner gets a task there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.pipedrive import PipedriveSandbox
from service.config import Settings
from service.harness import LiveService
from service.runtime import Runtime
from tests.conftest import make_key
from tests.e2e.conftest import wait_until


@dataclass
class Crm:
    """How the test drives one CRM's sandbox."""

    kind: str
    sandbox: Any
    connection: dict[str, Any]
    create: Callable[[str, str], str]  # (pipeline, stage) -> deal id
    move: Callable[[str, str, str], None]  # (deal, pipeline, stage)
    stage: Callable[[str], str]
    tasks: Callable[[str], list[Any]]


def pipedrive() -> Crm:
    sb = PipedriveSandbox()
    sb.start()
    return Crm("pipedrive", sb, {"base_url": sb.base_url, "access_token": "sandbox-token",
                                 "webhook_username": "hook", "webhook_password": "secret"},
               lambda p, s: str(sb.ui_create_deal({"title": "Acme", "pipeline_id": int(p), "stage_id": int(s)})),
               lambda d, p, s: sb.ui_move_deal(d, int(s), int(p)),
               lambda d: str(sb.deal(d)["stage_id"]), sb.activities_for_deal)


def amocrm() -> Crm:
    sb = AmoCRMSandbox()
    sb.start()
    return Crm("amocrm", sb, {"base_url": sb.base_url, "access_token": sb.access_token,
                              "account_id": str(sb.account_id)},
               lambda p, s: str(sb.ui_create_lead({"name": "Acme", "pipeline_id": int(p), "status_id": int(s)})),
               lambda d, p, s: sb.ui_move_lead(d, int(s), int(p)),
               lambda d: str(sb.lead(d)["status_id"]), sb.tasks_for_lead)


def bitrix24() -> Crm:
    sb = Bitrix24Sandbox()
    sb.start()
    return Crm("bitrix24", sb, {"base_url": sb.incoming_webhook_url, "application_token": "apptoken",
                                "account_id": "sandbox-member"},
               lambda p, s: str(sb.ui_create_deal({"TITLE": "Acme", "CATEGORY_ID": p, "STAGE_ID": s})),
               lambda d, p, s: sb.ui_move_deal(d, s, p),
               lambda d: str(sb.deal(d)["STAGE_ID"]), sb.todos_for_deal)


@pytest.fixture(params=[pipedrive, amocrm, bitrix24], ids=["pipedrive", "amocrm", "bitrix24"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    """A started sandbox of one CRM."""
    made: Crm = request.param()
    yield made
    made.sandbox.stop()


@dataclass
class Setup:
    """The service configured for one CRM: a gate on the second open stage requiring company size."""

    crm: Crm
    api: httpx.Client
    runtime: Runtime
    connection_id: int
    pipeline: str
    stages: list[str]
    webhook_url: str


@pytest.fixture
def setup(crm: Crm, runtime: Runtime, settings: Settings) -> Iterator[Setup]:
    """Qualify serving on loopback, connected to the CRM's sandbox, with one gate."""
    service = LiveService(settings, runtime=runtime, migrate=False)
    base = service.start()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {make_key(runtime, 'admin')}"},
                       timeout=10)
    try:
        api.post("/v1/fields", json={"key": "company_size", "label": "Company size", "type": "number",
                                     "constraints": {"min": 1}}).raise_for_status()
        created = api.post("/v1/connections", json={"name": crm.kind, "kind": crm.kind, **crm.connection})
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        connection = api.post(f"/v1/connections/{cid}/pipelines/refresh").raise_for_status().json()
        pipeline = connection["pipelines"][0]
        stages = [s["id"] for s in pipeline["stages"] if s["kind"] == "open"]
        size = next(p["name"] for p in api.get(f"/v1/connections/{cid}/properties").json()["items"]
                    if p["label"].lower().startswith("company size"))
        api.put(f"/v1/connections/{cid}/mappings",
                json={"mappings": [{"property": size, "field": "company_size"}]}).raise_for_status()
        api.post("/v1/gates", json={"connection_id": cid, "pipeline": pipeline["id"], "stage": stages[1],
                                    "requirements": [{"field": "company_size"}]}).raise_for_status()
        httpx.post(f"{crm.sandbox.base_url}/_sandbox/config",
                   json={"webhook_url": connection["webhook_url"]}).raise_for_status()
        yield Setup(crm, api, runtime, cid, pipeline["id"], stages, connection["webhook_url"])
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
    from service.services.sync import request_sync, run_queued_syncs

    with setup.runtime.uow() as uow:
        run_id = request_sync(uow, setup.connection_id, full=False, trigger="test", now=setup.runtime.clock()).id
        uow.commit()
    run_queued_syncs(setup.runtime)
    with setup.runtime.uow() as uow:
        return uow.session.get_one(SyncRun, run_id)
