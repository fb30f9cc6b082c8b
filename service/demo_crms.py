"""`qualify demo --crm KIND`: the short story on any CRM's sandbox, driven through its registry entry's
`demo_scenario()` (how to act as a person in that sandbox); the end-to-end tests of the CRMs use it too."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import httpx
from cryptography.fernet import Fernet

from adapters.registry import kind_of
from adapters.sandbox.scenario import Scenario
from service.config import Settings
from service.demo import Narrator, wait_for
from service.harness import LiveService
from service.services.keys import create_key


def scenario_of(kind: str) -> Scenario:
    """A started sandbox of the CRM and a person's moves in it (its registry entry's sandbox module)."""
    scenario: Scenario = import_module(kind_of(kind).sandbox).demo_scenario()
    return scenario


@dataclass
class Configured:
    """What `configure_gate` set up."""

    connection_id: int
    pipeline: str
    stages: list[str]  # the open stages in order
    size_property: str  # the CRM property mapped to `company_size`
    webhook_url: str


def configure_gate(api: httpx.Client, scenario: Scenario) -> Configured:
    """Through the REST API: a company-size field, the connection, its mapping, a gate on the second stage."""
    api.post("/v1/fields", json={"key": "company_size", "label": "Company size", "type": "number",
                                 "constraints": {"min": 1}}).raise_for_status()
    created = api.post("/v1/connections", json={"name": scenario.kind, "kind": scenario.kind, **scenario.connection})
    created.raise_for_status()
    cid = created.json()["id"]
    connection = api.post(f"/v1/connections/{cid}/pipelines/refresh").raise_for_status().json()
    pipeline = connection["pipelines"][0]
    stages = [s["id"] for s in pipeline["stages"] if s["kind"] == "open"]
    size = next(p["name"] for p in api.get(f"/v1/connections/{cid}/properties").json()["items"]
                if p["label"].lower().startswith("company size"))
    api.put(f"/v1/connections/{cid}/mappings",
            json={"mappings": [{"property": size, "field": "company_size"}]}).raise_for_status()
    api.post("/v1/gates", json={"connection_id": cid, "pipeline": pipeline["id"], "stage": stages[1],
                                "mode": "enforce", "requirements": [{"field": "company_size"}]}).raise_for_status()
    httpx.post(f"{scenario.sandbox.base_url}/_sandbox/config",
               json={"webhook_url": connection["webhook_url"]}).raise_for_status()
    return Configured(cid, pipeline["id"], stages, size, connection["webhook_url"])


def run_crm_demo(kind: str) -> int:
    """Play the story on one CRM's sandbox; 0 when every step happened as expected."""
    say = Narrator().say
    scenario = scenario_of(kind)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(instance_path=tmp, secret_key=Fernet.generate_key().decode(),
                            allow_loopback_crm=True, worker_poll_seconds=0.05).resolved()
        service = LiveService(settings)
        try:
            base = service.start()
            key = create_key(service.runtime, "admin", "demo")
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as api:
                say(f"{kind} sandbox on {scenario.sandbox.base_url}, Qualify on {base}")
                setup = configure_gate(api, scenario)
                say(f"admin: field 'Company size' mapped to {kind} property {setup.size_property}, "
                    f"gate on stage {setup.stages[1]}")
                return _story(say, scenario, setup, api)
        finally:
            service.stop()
            scenario.stop()


def _story(say: Callable[[str], None], sc: Scenario, setup: Configured, api: httpx.Client) -> int:
    first, target = setup.stages[0], setup.stages[2]
    deal = sc.create(setup.pipeline, first)
    say(f"manager creates deal {deal} in stage {first}")
    wait_for(lambda: any(r["external_id"] == deal for r in api.get("/v1/records").json()["items"]))
    sc.move(deal, setup.pipeline, target)
    say(f"manager moves it to stage {target}, skipping {setup.stages[1]}, company size empty")
    wait_for(lambda: sc.stage(deal) == first and sc.tasks(deal))
    say(f"BLOCKED: Qualify moved it back to {first} and left the owner a task")
    sc.update(deal, {setup.size_property: 120})
    say("manager fills in the company size (120)")
    time.sleep(0.3)
    sc.move(deal, setup.pipeline, target)
    say(f"manager moves it to stage {target} again")
    wait_for(lambda: any(t["decision"] == "allowed" and t["to_stage"] == target
                         for t in api.get("/v1/transitions").json()["items"]))
    time.sleep(0.5)
    ok = sc.stage(deal) == target and len(sc.tasks(deal)) == 1
    say(f"ALLOWED: the deal stays in {sc.stage(deal)}, no new task")
    say("demo finished: " + ("every step happened as expected" if ok else "UNEXPECTED OUTCOME"))
    return 0 if ok else 1
