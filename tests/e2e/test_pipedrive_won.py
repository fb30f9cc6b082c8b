"""End to end on the Pipedrive sandbox: won/lost are deal statuses there, seen by Qualify as the virtual stages
`won` and `lost`. A gate on `won` requires company size: a deal marked won without it is reopened where it stood
and its owner gets a task; marked won with it, it stays won, a sync makes it a purchase of its organization, and
the qualification report counts it among the connection's closed and won deals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_seed import KEYS
from service.config import Settings
from service.demo_crms import scenario_of
from service.harness import LiveService
from service.models import Purchase
from service.runtime import Runtime
from service.services.purchases import crm_source
from tests.conftest import make_key
from tests.e2e.conftest import wait_until
from tests.e2e.test_other_crms import run_sync


@dataclass
class Setup:
    """Qualify serving on loopback, connected to the Pipedrive sandbox, with a gate on Sales' `won` stage."""

    sandbox: PipedriveSandbox
    api: httpx.Client
    runtime: Runtime
    connection_id: int
    stages: list[dict[str, Any]]  # Sales' stages as Qualify mirrors them


@pytest.fixture
def setup(runtime: Runtime, settings: Settings) -> Iterator[Setup]:
    scenario = scenario_of("pipedrive")
    service = LiveService(settings, runtime=runtime, migrate=False)
    api = httpx.Client(base_url=service.start(), timeout=10,
                       headers={"Authorization": f"Bearer {make_key(runtime, 'admin')}"})  # fmt: skip
    try:
        api.post("/v1/fields", json={"key": "company_size", "label": "Company size", "type": "number",
                                     "constraints": {"min": 1}}).raise_for_status()  # fmt: skip
        created = api.post("/v1/connections", json={"name": "pipedrive", "kind": "pipedrive", **scenario.connection})
        cid = created.raise_for_status().json()["id"]
        connection = api.post(f"/v1/connections/{cid}/pipelines/refresh").raise_for_status().json()
        sales = connection["pipelines"][0]
        api.put(f"/v1/connections/{cid}/mappings", json={"mappings": [
            {"property": KEYS["company_size"], "field": "company_size"}]}).raise_for_status()
        api.post("/v1/gates", json={"connection_id": cid, "pipeline": sales["id"], "stage": "won", "mode": "enforce",
                                    "requirements": [{"field": "company_size"}]}).raise_for_status()  # fmt: skip
        httpx.post(f"{scenario.sandbox.base_url}/_sandbox/config",
                   json={"webhook_url": connection["webhook_url"]}).raise_for_status()
        yield Setup(scenario.sandbox, api, runtime, cid, sales["stages"])  # type: ignore[arg-type]
    finally:
        api.close()
        service.stop()
        scenario.stop()


def transitions(setup: Setup, decision: str) -> list[dict[str, Any]]:
    return [t for t in setup.api.get("/v1/transitions").json()["items"] if t["decision"] == decision]


def new_deal(setup: Setup, stage_id: int, **fields: Any) -> int:
    """A deal created in the UI and seen by Qualify."""
    deal = setup.sandbox.ui_create_deal({"title": "Acme", "stage_id": stage_id, "owner_id": 2, **fields})
    wait_until(lambda: any(r["external_id"] == str(deal) for r in setup.api.get("/v1/records").json()["items"]))
    return deal


def test_pipedrive_pipelines_are_mirrored_with_won_and_lost_stages(setup: Setup) -> None:
    *real, won, lost = setup.stages
    assert {s["kind"] for s in real} == {"open"}
    assert [(won["id"], won["kind"]), (lost["id"], lost["kind"])] == [("won", "won"), ("lost", "lost")]


def test_marking_won_is_gated_then_the_won_deal_is_a_purchase_and_counted_in_the_report(setup: Setup) -> None:
    sb = setup.sandbox
    missing = new_deal(setup, 3, value=500, org_id=301)
    sb.ui_update_deal(missing, {"status": "won"})  # a manager marks it won without company size
    wait_until(lambda: sb.deal(missing)["status"] == "open" and sb.activities_for_deal(missing), timeout=10)
    assert sb.deal(missing)["stage_id"] == 3  # reopened where it stood
    [block] = transitions(setup, "blocked")
    assert (block["from_stage"], block["to_stage"], [i["field"] for i in block["issues"]]) == (
        "3", "won", ["company_size"])
    assert len(sb.activities_for_deal(missing)) == 1

    complete = new_deal(setup, 2, value=1200, org_id=302, **{KEYS["company_size"]: 40})
    sb.ui_update_deal(complete, {"status": "won"})
    lost = new_deal(setup, 1, value=300, org_id=303)
    sb.ui_update_deal(lost, {"status": "lost"})  # no gate on lost
    wait_until(lambda: {(t["from_stage"], t["to_stage"]) for t in transitions(setup, "allowed")}
               >= {("2", "won"), ("1", "lost")}, timeout=10)
    assert len(transitions(setup, "blocked")) == 1
    assert (sb.deal(complete)["status"], sb.deal(lost)["status"]) == ("won", "lost")
    assert sb.activities_for_deal(complete) == []

    assert run_sync(setup).status == "done"
    with setup.runtime.read_uow() as uow:
        purchases = {p.external_id: Decimal(p.amount) for p in uow.session.scalars(
            select(Purchase).where(Purchase.source == crm_source(setup.connection_id)))}
    won_deals = [d for d in (missing, complete, lost) if sb.deal(d)["status"] == "won"]
    assert purchases == {str(d): Decimal(sb.deal(d)["value"]) for d in won_deals}

    report = setup.api.get("/v1/reports/qualification", params={"connection_id": setup.connection_id})
    pays = report.raise_for_status().json()["pays"]
    closed = [d for d in (missing, complete, lost) if sb.deal(d)["status"] in ("won", "lost")]
    assert (pays["closed"], pays["won"]) == (len(closed), len(won_deals)) == (2, 1)


def test_a_native_requirement_on_marking_won_is_imported_onto_that_pipelines_won_stage(setup: Setup) -> None:
    plan = setup.api.post(f"/v1/connections/{setup.connection_id}/gates/import", json={}).raise_for_status().json()
    on_closing = [(g["pipeline"], g["stage"], g["action"]) for g in plan["gates"] if g["stage"] in ("won", "lost")]
    # Sandbox: company size is required when a deal of Sales (pipeline 1) is marked won; the gate already asks it.
    assert on_closing == [("1", "won", "unchanged")]
    assert not [s for s in plan["skipped"] if "won" in s["stage"]]
