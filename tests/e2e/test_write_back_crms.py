"""End to end on the Pipedrive, amoCRM/Kommo and Bitrix24 sandboxes: the best fit (score, grade, persona
name) is written to the CRM's own custom fields through the outbox in one request, the CRM's echo of that
write (its documented webhook for an API change) queues nothing more, and a later portrait change that
moves the grade writes again — only the values that changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.sandbox import amocrm_state as amo
from adapters.sandbox.pipedrive_seed import KEYS
from adapters.sandbox.scenario import Scenario
from service.config import Settings
from service.demo_crms import configure_gate, scenario_of
from service.harness import LiveService
from service.models import OutboxAction
from service.runtime import Runtime
from service.services.write_back import WRITE_FIELDS
from tests.conftest import make_key
from tests.e2e.conftest import wait_until
from tests.e2e.test_other_crms import OTHER_CRMS

PERSONA = {"name": "Retail buyer", "ring": "core", "criteria": [
    {"field": "industry", "matcher": "in", "values": ["retail", "manufacturing"], "weight": 3},
    {"field": "company_size", "matcher": "range", "min": 50, "max": 1000},
]}
INDUSTRY = {"key": "industry", "label": "Industry", "type": "enum",
            "constraints": {"options": ["it", "manufacturing", "retail", "finance", "healthcare"]}}


def _text(value: Any) -> str | None:
    """A CRM value as the string Qualify wrote: 100.0 -> "100"."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Fields:
    """One CRM's side of the story: its ids, how the manager edits a deal, how to read the deal back."""

    targets: dict[str, str]  # score_write_back: score/grade/persona -> the CRM's custom field id
    industry: str  # the CRM property holding the industry (an enumeration)
    retail: Any  # the option id of "Retail", as the CRM's UI stores it
    create: Callable[[Scenario, str, str, dict[str, Any]], str]  # (sandbox, pipeline, stage, portrait) -> deal
    update: Callable[[Scenario, str, dict[str, Any]], None]  # the manager edits the deal in the CRM's UI
    read: Callable[[Scenario, str], dict[str, str | None]]  # the deal's custom values by field id, as text
    writes: Callable[[Scenario, str], list[dict[str, str | None]]]  # Qualify's writes to the deal: {field: value}


def _pipedrive_create(crm: Scenario, pipeline: str, stage: str, portrait: dict[str, Any]) -> str:
    fields = {"title": "Acme Retail", "pipeline_id": int(pipeline), "stage_id": int(stage), **portrait}
    return str(crm.sandbox.ui_create_deal(fields, user_id=2))


def _pipedrive_writes(crm: Scenario, deal: str) -> list[dict[str, str | None]]:
    calls = crm.sandbox.api_calls(method="PATCH", path_prefix=f"/api/v2/deals/{deal}")
    return [{k: _text(v) for k, v in (c["json"].get("custom_fields") or {}).items()} for c in calls
            if c["status"] == 200]


def _amocrm_create(crm: Scenario, pipeline: str, stage: str, portrait: dict[str, Any]) -> str:
    fields = {"name": "Acme Retail", "pipeline_id": int(pipeline), "status_id": int(stage), **portrait}
    return str(crm.sandbox.ui_create_lead(fields, user_id=amo.USER_BORIS))


def _amocrm_read(crm: Scenario, deal: str) -> dict[str, str | None]:
    values = crm.sandbox.lead(deal)["custom_fields_values"] or []
    return {str(v["field_id"]): ",".join(str(x["value"]) for x in v["values"]) for v in values}


def _amocrm_writes(crm: Scenario, deal: str) -> list[dict[str, str | None]]:
    calls = crm.sandbox.api_calls(method="PATCH", path_prefix=f"/api/v4/leads/{deal}")
    return [{str(v["field_id"]): None if not v["values"] else ",".join(str(x["value"]) for x in v["values"])
             for v in c["json"].get("custom_fields_values") or []} for c in calls if c["status"] == 200]


def _bitrix24_create(crm: Scenario, pipeline: str, stage: str, portrait: dict[str, Any]) -> str:
    fields = {"TITLE": "Acme Retail", "CATEGORY_ID": pipeline, "STAGE_ID": stage, **portrait}
    return str(crm.sandbox.ui_create_deal(fields, user_id=7))


def _bitrix24_writes(crm: Scenario, deal: str) -> list[dict[str, str | None]]:
    calls = crm.sandbox.api_calls(method="crm.deal.update")
    return [{k: _text(v) for k, v in (c["params"].get("fields") or {}).items() if k.startswith("UF_CRM_")}
            for c in calls if str(c["params"].get("id")) == deal and c["status"] == 200]


CRMS: dict[str, Fields] = {
    "pipedrive": Fields(
        {"score": KEYS["qualify_fit_score"], "grade": KEYS["qualify_fit_grade"], "persona": KEYS["qualify_persona"]},
        KEYS["industry"], 33, _pipedrive_create,
        lambda crm, deal, portrait: crm.sandbox.ui_update_deal(deal, portrait, user_id=2),
        lambda crm, deal: {k: _text(v) for k, v in crm.sandbox.deal(deal)["custom_fields"].items()},
        _pipedrive_writes),
    "amocrm": Fields(
        {"score": str(amo.QUALIFY_FIT_SCORE), "grade": str(amo.QUALIFY_FIT_GRADE),
         "persona": str(amo.QUALIFY_PERSONA)},
        str(amo.INDUSTRY), 910_002, _amocrm_create,
        lambda crm, deal, portrait: crm.sandbox.ui_update_lead(deal, portrait, user_id=amo.USER_BORIS),
        _amocrm_read, _amocrm_writes),
    "bitrix24": Fields(
        {"score": "UF_CRM_QUALIFY_FIT_SCORE", "grade": "UF_CRM_QUALIFY_FIT_GRADE", "persona": "UF_CRM_QUALIFY_PERSONA"},
        "UF_CRM_INDUSTRY", "103", _bitrix24_create,
        lambda crm, deal, portrait: crm.sandbox.ui_update_deal(deal, portrait, user_id=7),
        lambda crm, deal: {k: _text(v) for k, v in crm.sandbox.deal(deal).items() if k.startswith("UF_CRM_")},
        _bitrix24_writes),
}


@pytest.fixture(params=OTHER_CRMS)
def crm(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A started sandbox of one CRM."""
    scenario = scenario_of(request.param)
    yield scenario
    scenario.stop()


@dataclass
class Setup:
    """Qualify connected to one CRM's sandbox, scoring a persona and writing the best fit back."""

    crm: Scenario
    fields: Fields
    api: httpx.Client
    runtime: Runtime
    connection_id: int
    pipeline: str
    stages: list[str]
    size_property: str

    def values(self, deal: str) -> dict[str, str | None]:
        """The three written-back values on the deal in the sandbox, by score/grade/persona."""
        stored = self.fields.read(self.crm, deal)
        return {name: stored.get(prop) for name, prop in self.fields.targets.items()}

    def writes(self, deal: str) -> list[dict[str, str | None]]:
        """Qualify's API writes of the write-back fields to the deal, by score/grade/persona."""
        ours = {prop: name for name, prop in self.fields.targets.items()}
        found = [{ours[k]: v for k, v in w.items() if k in ours} for w in self.fields.writes(self.crm, deal)]
        return [w for w in found if w]

    def events(self, deal: str) -> list[dict[str, Any]]:
        """Qualify's stored events of the deal, oldest first."""
        items = self.api.get("/v1/events", params={"connection_id": self.connection_id, "page_size": 500})
        return [e for e in reversed(items.json()["items"]) if e["object_id"] == deal]

    def settle(self) -> None:
        """Wait until the sandbox has sent every webhook and Qualify has processed every event and
        delivered every outbox action, twice over (a delivery may cause another webhook)."""
        for _ in range(2):
            self.crm.sandbox.wait_webhooks_idle(timeout=10)
            wait_until(self._quiet, timeout=15)

    def _quiet(self) -> bool:
        busy = self.api.get("/v1/events", params={"connection_id": self.connection_id, "page_size": 500})
        if any(e["status"] in ("received", "processing") for e in busy.json()["items"]):
            return False
        with self.runtime.uow() as uow:
            pending = uow.session.scalar(select(func.count()).select_from(OutboxAction).where(
                OutboxAction.status.in_(("pending", "in_flight"))))
        return pending == 0


@pytest.fixture
def setup(crm: Scenario, runtime: Runtime, settings: Settings) -> Iterator[Setup]:
    """Qualify on loopback: company size and industry mapped, a persona over them, write-back configured."""
    service = LiveService(settings, runtime=runtime, migrate=False)
    base = service.start()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {make_key(runtime, 'admin')}"},
                       timeout=10)
    try:
        configured = configure_gate(api, crm)  # the company-size field, mapped; a gate on the second stage
        fields = CRMS[crm.kind]
        api.post("/v1/fields", json=INDUSTRY).raise_for_status()
        cid = configured.connection_id
        properties = {p["name"]: p for p in api.get(f"/v1/connections/{cid}/properties").json()["items"]}
        assert set(fields.targets.values()) <= set(properties), "the sandbox lacks the write-back fields"
        score = properties[fields.targets["score"]]
        assert "number" in (score["type"], score["field_type"])  # Bitrix24 lists "double" / "number"
        options = {o["value"]: o["label"].lower() for o in properties[fields.industry]["options"]}
        assert options[str(fields.retail)] == "retail"
        api.put(f"/v1/connections/{cid}/mappings", json={"mappings": [
            {"property": configured.size_property, "field": "company_size"},
            {"property": fields.industry, "field": "industry", "value_map": options}]}).raise_for_status()
        api.patch(f"/v1/connections/{cid}", json={"score_write_back": fields.targets}).raise_for_status()
        api.post("/v1/personas", json=PERSONA).raise_for_status()
        if crm.kind == "amocrm":  # the account webhook the README asks for: lead status, add and update
            httpx.post(f"{crm.sandbox.base_url}/_sandbox/config",
                       json={"events": ["status", "add", "update", "delete"]}).raise_for_status()
        yield Setup(crm, fields, api, runtime, cid, configured.pipeline, configured.stages, configured.size_property)
    finally:
        api.close()
        service.stop()


def test_the_best_fit_is_written_once_and_the_echo_does_not_loop(setup: Setup) -> None:
    fields, crm = setup.fields, setup.crm
    deal = fields.create(crm, setup.pipeline, setup.stages[0],
                         {fields.industry: fields.retail, setup.size_property: 120})

    wait_until(lambda: setup.values(deal)["persona"], timeout=15)
    setup.settle()  # the echo of the write came back as a webhook and was processed

    assert setup.values(deal) == {"score": "100", "grade": "A", "persona": "Retail buyer"}
    assert setup.writes(deal) == [{"score": "100", "grade": "A", "persona": "Retail buyer"}]
    changes = [e for e in setup.events(deal) if e["kind"] == "property_change"]
    assert changes, "the sandbox sent no webhook for Qualify's own write"
    assert all(e["status"] == "done" for e in changes), changes
    with setup.runtime.uow() as uow:
        actions = uow.session.scalars(select(OutboxAction).where(OutboxAction.kind == WRITE_FIELDS)).all()
        assert [(a.status, a.payload["deal_id"]) for a in actions] == [("done", deal)]

    fields.update(crm, deal, {setup.size_property: 5000})  # 50 + 50 * (3 - 1) / 4 = 75: grade B

    wait_until(lambda: setup.values(deal)["grade"] == "B", timeout=15)
    setup.settle()
    assert setup.values(deal) == {"score": "75", "grade": "B", "persona": "Retail buyer"}
    assert setup.writes(deal) == [{"score": "100", "grade": "A", "persona": "Retail buyer"},
                                  {"score": "75", "grade": "B"}]  # the persona did not change: not rewritten


def test_each_write_is_one_request_in_the_crms_own_shape(setup: Setup) -> None:
    fields, crm = setup.fields, setup.crm
    deal = fields.create(crm, setup.pipeline, setup.stages[0],
                         {fields.industry: fields.retail, setup.size_property: 120})
    wait_until(lambda: setup.values(deal)["persona"], timeout=15)
    setup.settle()
    score, grade, persona = (fields.targets[k] for k in ("score", "grade", "persona"))

    if crm.kind == "pipedrive":
        (call,) = [c for c in crm.sandbox.api_calls(method="PATCH") if "custom_fields" in (c["json"] or {})]
        assert call["path"] == f"/api/v2/deals/{deal}"
        assert call["json"] == {"custom_fields": {score: 100, grade: "A", persona: "Retail buyer"}}
    elif crm.kind == "amocrm":
        (call,) = crm.sandbox.api_calls(method="PATCH")
        assert call["path"] == f"/api/v4/leads/{deal}"
        assert call["json"] == {"custom_fields_values": [
            {"field_id": int(score), "values": [{"value": "100"}]},
            {"field_id": int(grade), "values": [{"value": "A"}]},
            {"field_id": int(persona), "values": [{"value": "Retail buyer"}]}]}
    else:
        (call,) = crm.sandbox.api_calls(method="crm.deal.update")
        assert call["params"] == {"id": deal, "fields": {score: "100", grade: "A", persona: "Retail buyer"},
                                  "params": {"REGISTER_SONET_EVENT": "N"}}
