"""GET /v1/config and POST /v1/config: export the configuration as one file and apply it back, on a connection
whose pipelines were refreshed from a HubSpot sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

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
