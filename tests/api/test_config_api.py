"""GET /v1/config and POST /v1/config: export the configuration as one file and apply it back, on a connection
whose pipelines were refreshed from a HubSpot sandbox."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import product
from typing import Any

import pytest
import yaml

from service.db import utcnow
from service.models import CrmUser, Record, Transition
from service.runtime import Runtime
from tests.api.conftest import SANDBOX_SECRET, SANDBOX_TOKEN, assert_problem, connection_body
from tests.conftest import empty_database, make_key

YAML = "application/yaml"


class CountingClient:
    """A test client counting the calls and JSON bodies sent through it (the set-up measurement)."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client, self.headers, self.calls, self.bodies = client, headers, 0, 0

    def send(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        self.calls += 1
        self.bodies += body is not None
        response = getattr(self.client, method)(url, json=body, headers=self.headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()  # type: ignore[no-any-return]


def configure_pipeline(api: CountingClient, connection_id: int) -> None:
    """Four fields with their mappings, one persona, gates on two stages: what an admin sends today."""
    for body in ({"key": "industry", "label": "Industry", "type": "enum", "group": "firmographic",
                  "constraints": {"options": ["retail", "it"]}},
                 {"key": "budget", "label": "Budget", "type": "number", "constraints": {"min": 1000}},
                 {"key": "pains", "label": "Pains", "type": "text", "group": "pains"},
                 {"key": "employees", "label": "Employees", "type": "integer", "label_ru": "Сотрудники"}):
        api.send("post", "/v1/fields", body)
    api.send("put", f"/v1/connections/{connection_id}/mappings", {"mappings": [
        {"property": "industry", "field": "industry", "value_map": {"retail": "retail", "it": "it"}},
        {"property": "budget", "field": "budget"}, {"property": "pain_points", "field": "pains"},
        {"property": "company_size", "field": "employees"}]})
    persona = api.send("post", "/v1/personas", {
        "name": "Retail SMB", "description": "Natalia, 30, runs two shops.\nBuys in spring.",
        "criteria": [{"field": "industry", "matcher": "equals", "value": "retail", "kind": "must"},
                     {"field": "budget", "matcher": "range", "min": 1000, "max": 50000, "weight": 2}]})
    api.send("post", "/v1/gates", {
        "connection_id": connection_id, "pipeline": "default", "stage": "qualifiedtobuy", "mode": "enforce",
        "requirements": [{"field": "industry"},
                         {"field": "budget", "required_if": {"field": "industry", "op": "eq", "value": "it"}}]})
    api.send("post", "/v1/gates", {
        "connection_id": connection_id, "pipeline": "default", "stage": "presentationscheduled", "mode": "warn",
        "requirements": [{"field": "pains"}], "persona_requirement": {"persona_id": persona["id"], "min_score": 50}})


@pytest.fixture
def configured(client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> dict[str, Any]:
    """The sandbox connection with a whole pipeline configured through the API."""
    configure_pipeline(CountingClient(client, admin_headers), connection["id"])
    return connection


def export(client: Any, headers: dict[str, str]) -> str:
    response = client.get("/v1/config?format=yaml", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == YAML
    return response.get_data(as_text=True)  # type: ignore[no-any-return]


def post_config(client: Any, headers: dict[str, str], text: str, *, dry_run: bool = False) -> Any:
    return client.post(f"/v1/config?dry_run={'true' if dry_run else 'false'}", data=text.encode(),
                       headers={**headers, "Content-Type": YAML})


def test_given_a_configured_pipeline_when_exporting_then_the_file_names_keys_not_ids_and_no_secrets(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    text = export(client, admin_headers)

    document = yaml.safe_load(text)
    assert [c["name"] for c in document["connections"]] == ["Sandbox portal"]
    assert [f["key"] for f in document["fields"]] == ["budget", "employees", "industry", "pains"]
    gate = document["gates"][0]  # gates in order of connection, pipeline, stage
    assert (gate["connection"], gate["pipeline"], gate["stage"], gate["persona_requirement"]) == (
        "Sandbox portal", "default", "presentationscheduled", {"persona": "Retail SMB", "min_score": 50,
                                                              "not_disqualified": False})
    assert document["fields"][0]["constraints"] == {"min": 1000}
    for secret in (SANDBOX_TOKEN, SANDBOX_SECRET, "_id:", "id:", "access_token", "base_url"):
        assert secret not in text
    assert client.get("/v1/config", headers=admin_headers).get_json() == document


def test_given_accept_yaml_when_exporting_then_yaml_and_json_otherwise(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    as_yaml = client.get("/v1/config", headers={**admin_headers, "Accept": YAML})
    as_json = client.get("/v1/config", headers={**admin_headers, "Accept": "application/json, */*"})

    assert as_yaml.mimetype == YAML and as_json.mimetype == "application/json"
    assert yaml.safe_load(as_yaml.get_data(as_text=True)) == as_json.get_json()


def test_given_an_export_when_applied_on_an_empty_instance_with_its_connection_created_first_then_it_exports_the_same_bytes(  # noqa: E501
        client: Any, runtime: Runtime, configured: dict[str, Any], admin_headers: dict[str, str],
        sandbox: Any) -> None:
    before = export(client, admin_headers)
    empty_database(runtime.engine)
    runtime.cache.clear()
    headers = {"Authorization": f"Bearer {make_key(runtime, 'admin')}"}
    # A connection carries credentials, which the file never does: it is created first, then the file applied.
    created = client.post("/v1/connections", json=connection_body(sandbox.base_url), headers=headers).get_json()
    assert client.post(f"/v1/connections/{created['id']}/pipelines/refresh", headers=headers).status_code == 200

    applied = post_config(client, headers, before)

    assert applied.status_code == 200, applied.get_json()
    assert (applied.get_json()["add"], applied.get_json()["remove"]) == (11, 0)
    assert export(client, headers) == before
    again = post_config(client, headers, before, dry_run=True).get_json()
    assert again["changes"] == [] and again["lines"][0].startswith("Plan: 0 to add, 0 to change, 0 to remove")


def test_given_a_changed_file_when_planning_then_each_change_is_listed_with_its_attributes(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    document = yaml.safe_load(export(client, admin_headers))
    document["fields"][0]["label"] = "Deal budget"
    document["fields"][0]["constraints"]["min"] = 2000
    document["fields"] = [f for f in document["fields"] if f["key"] != "employees"]
    document["connections"][0]["mappings"] = [m for m in document["connections"][0]["mappings"]
                                              if m["field"] != "employees"]
    document["connections"][0]["language"] = "ru"
    document["gates"][1]["mode"] = "warn"
    document["fields"].append({"key": "region", "label": "Region", "type": "text"})

    plan = post_config(client, admin_headers, yaml.safe_dump(document), dry_run=True).get_json()

    assert plan["lines"][:-2] == [
        '~ connection Sandbox portal: language "en" -> "ru"',
        '~ field budget: label "Budget" -> "Deal budget"; constraints.min 1000 -> 2000',
        "- field employees",
        "+ field region",
        "- mapping Sandbox portal/employees",
        '~ gate Sandbox portal/default/qualifiedtobuy: mode "enforce" -> "warn" '
        "(would block 0 of 0 open deals before this stage if enforced)",
        "Impact of Sandbox portal's gates in this file if enforced (persona requirements not evaluated):",
        "  open deals blocked on their next move: 0 of 0",
        "    Presentation Scheduled (default/presentationscheduled, warn): 0 of 0",
        "    Qualified To Buy (default/qualifiedtobuy, warn): 0 of 0",
        "  moves of the last 90 days that would have been blocked: 0 of 0 allowed then (0 moves)",
        "    by stage (of the moves allowed then): Presentation Scheduled 0 of 0, Qualified To Buy 0 of 0",
    ]
    assert (plan["add"], plan["change"], plan["remove"], plan["dry_run"], plan["applied"]) == (1, 3, 2, True, False)
    assert "Connections are never created or deleted by apply" in plan["lines"][-2]


def test_given_a_file_leaving_out_the_connection_when_planning_then_it_is_kept_and_its_gates_removed(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    document = yaml.safe_load(export(client, admin_headers))
    document["connections"], document["gates"] = [], []
    document["personas"][0].pop("owner_connection", None)

    plan = post_config(client, admin_headers, yaml.safe_dump(document), dry_run=True).get_json()

    kept = [c for c in plan["changes"] if c["kind"] == "connection"]
    assert [(c["action"], c["name"]) for c in kept] == [("=", "Sandbox portal")]
    assert "never deletes a connection" in kept[0]["note"]
    assert sorted(c["kind"] for c in plan["changes"] if c["action"] == "-") == ["gate"] * 2 + ["mapping"] * 4


def test_given_a_json_body_when_applying_then_it_is_read_as_the_same_document(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    document = client.get("/v1/config", headers=admin_headers).get_json()
    document["gates"][1]["description"] = "Know the customer first"

    response = client.post("/v1/config", json=document, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["lines"][0] == '~ gate Sandbox portal/default/qualifiedtobuy: description null -> ' \
                                              '"Know the customer first"'
    assert client.get("/v1/config", headers=admin_headers).get_json() == document


def test_given_a_manager_key_when_applying_then_403_and_export_is_allowed(
        client: Any, manager_headers: dict[str, str], configured: dict[str, Any]) -> None:
    assert client.get("/v1/config", headers=manager_headers).status_code == 200
    assert_problem(post_config(client, manager_headers, "version: 1\n", dry_run=True), 403)


def test_setting_up_one_pipeline_takes_eight_bodies_through_the_api_and_one_file_through_apply(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    api = CountingClient(client, admin_headers)
    configure_pipeline(api, connection["id"])
    text = export(client, admin_headers)

    # The connection (with its secrets) and its pipeline refresh come first either way: 2 calls, 1 JSON body.
    assert (api.calls, api.bodies) == (8, 8)
    assert post_config(client, admin_headers, text).status_code == 200


# The sandbox's default pipeline, its open stages in order.
STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent"]


def failing(source: str | None, target: str, values: dict[str, Any]) -> set[str]:
    """The model of the configured gates, all enforced (the persona requirement is not evaluated): qualifiedtobuy
    asks for industry, and for budget (at least 1000) when industry is it; presentationscheduled asks for pains. A
    move passes the gates of every stage after its source (from the first, without one) up to its target."""
    start = STAGES.index(source) + 1 if source is not None else 0
    passed = STAGES[start:STAGES.index(target) + 1]
    found = set()
    if "qualifiedtobuy" in passed:
        found |= {"industry"} if values.get("industry") is None else set()
        budget = values.get("budget")
        found |= {"budget"} if values.get("industry") == "it" and (budget is None or budget < 1000) else set()
    if "presentationscheduled" in passed and values.get("pains") is None:
        found.add("pains")
    return found


def add_history(runtime: Runtime, connection_id: int) -> dict[str, Any]:
    """Open deals in the first two stages in every mix of industry, budget and pains; each moved once into a gated
    stage 3 or 20 days ago by one of three owners, blocked then or not, some with pains reported missing then."""
    deals, moves = [], []
    now = utcnow()
    with runtime.uow() as uow:
        session = uow.session
        session.add(CrmUser(connection_id=connection_id, external_id="901", user_id="901", name="Alice Owner"))
        for i, (stage, industry, budget, pains) in enumerate(
                product(STAGES[:2], ("retail", "it", None), (5000, None), ("slow", None))):
            deals.append({"id": f"d{i}", "stage": stage,
                          "values": {"industry": industry, "budget": budget, "pains": pains}})
        rows = {d["id"]: Record(connection_id=connection_id, external_id=d["id"], kind="deal",
                                pipeline_external_id="default", stage_external_id=d["stage"], values=d["values"],
                                version=1) for d in deals}
        session.add_all(rows.values())
        session.flush()
        for i, deal in enumerate(deals):
            target = ("presentationscheduled", "qualifiedtobuy")[i % 2]
            move = {"deal": deal, "target": target, "source": None if i % 5 == 0 else STAGES[STAGES.index(target) - 1],
                    "owner": ("901", "902", None)[i % 3], "blocked": i % 7 == 0, "pains_then": i % 4 != 3,
                    "days_ago": 20 if i % 6 == 1 else 3}
            moves.append(move)
            issues = [] if move["pains_then"] else [{"field": "pains", "reason": "missing", "stage": target,
                                                     "mode": "warn", "message": "Pains is missing"}]
            session.add(Transition(
                connection_id=connection_id, record_id=rows[deal["id"]].id, to_pipeline="default", to_stage=target,
                from_pipeline="default" if move["source"] else None, from_stage=move["source"],
                occurred_at=now - timedelta(days=move["days_ago"]), owner_id=move["owner"], source="webhook",
                direction="forward", decision="blocked" if move["blocked"] else "allowed", issues=issues,
                mover_kind="ui"))
        uow.commit()
    return {"deals": deals, "moves": moves}


def test_given_deals_and_moves_when_planning_a_gate_change_then_the_plan_previews_the_file_gates(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any], runtime: Runtime) -> None:
    history = add_history(runtime, configured["id"])
    document = yaml.safe_load(export(client, admin_headers))
    document["gates"][0]["mode"] = "enforce"  # presentationscheduled, warn before

    response = client.post("/v1/config?dry_run=true&replay_days=10", data=yaml.safe_dump(document).encode(),
                           headers={**admin_headers, "Content-Type": YAML})

    assert response.status_code == 200, response.get_json()
    [preview] = response.get_json()["previews"]
    assert (preview["connection"], preview["connection_id"]) == ("Sandbox portal", configured["id"])
    stages = {s["stage"]: s for s in preview["open_deals"]["stages"]}
    assert {stage: s["mode"] for stage, s in stages.items()} == {"presentationscheduled": "enforce",
                                                                 "qualifiedtobuy": "enforce"}
    for target, got in stages.items():
        checked = [d for d in history["deals"] if STAGES.index(d["stage"]) < STAGES.index(target)]
        fails = [failing(d["stage"], target, d["values"]) for d in checked]
        assert (got["would_block"], got["of"]) == (sum(1 for found in fails if found), len(checked)), target
        assert {m["field"]: m["deals"] for m in got["missing"]} == Counter(f for found in fails for f in found)
    replayed = [m for m in history["moves"] if m["days_ago"] < 10]
    allowed = [m for m in replayed if not m["blocked"]]
    blocked = [m for m in allowed if failing(m["source"], m["target"], {
        **m["deal"]["values"], **({} if m["pains_then"] else {"pains": None})})]
    replay = preview["replay"]
    assert (replay["days"], replay["moves"], replay["allowed_then"], replay["would_block"]) == (
        10, len(replayed), len(allowed), len(blocked))
    assert 0 < replay["would_block"] < replay["allowed_then"] < replay["moves"]
    assert {(o["owner_id"], o["owner_name"], o["moves"], o["would_block"]) for o in replay["by_owner"]} == {
        (owner, "Alice Owner" if owner == "901" else None, n, Counter(m["owner"] for m in blocked)[owner])
        for owner, n in Counter(m["owner"] for m in replayed).items()}
    assert {s["stage"]: s["would_block"] for s in replay["by_stage"]} == {
        target: sum(1 for m in blocked if m["target"] == target) for target in stages}
    gate = next(c for c in response.get_json()["changes"] if c["kind"] == "gate")
    assert (gate["open_deals"], gate["would_stop"]) == (stages["presentationscheduled"]["of"],
                                                         stages["presentationscheduled"]["would_block"])
    as_yaml = client.post("/v1/config?dry_run=true&replay_days=10", data=yaml.safe_dump(document).encode(),
                          headers={**admin_headers, "Content-Type": YAML, "Accept": YAML})
    assert as_yaml.mimetype == YAML
    [again] = yaml.safe_load(as_yaml.get_data(as_text=True))["previews"]
    assert again["replay"].pop("since") >= preview["replay"].pop("since")  # ISO text, a later request
    assert again == preview


def test_given_no_gate_change_when_planning_then_no_preview_and_replay_days_are_bounded(
        client: Any, admin_headers: dict[str, str], configured: dict[str, Any]) -> None:
    text = export(client, admin_headers)

    assert post_config(client, admin_headers, text, dry_run=True).get_json()["previews"] == []
    for days in ("0", "731", "many"):
        response = client.post(f"/v1/config?dry_run=true&replay_days={days}", data=text.encode(),
                               headers={**admin_headers, "Content-Type": YAML})
        assert "replay_days" in str(assert_problem(response, 422).get("errors"))
