"""GET /v1/templates and POST /v1/personas/from-template: persona templates create their fields and
persona; framework templates create their fields and cumulative gates on the mapped sandbox stages."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem, define_field, error_paths

BANT_STAGES = {"qualified": "qualifiedtobuy", "discovery": "presentationscheduled",
               "proposal": "decisionmakerboughtin", "lost": "closedlost"}


def test_the_templates_are_listed_with_their_kind_and_stages(client: Any, manager_headers: dict[str, str]) -> None:
    items = client.get("/v1/templates", headers=manager_headers).get_json()["items"]

    kinds = {t["key"]: t["kind"] for t in items}
    assert kinds == {"customer-portrait": "persona", "b2b-icp": "persona", "bant": "gates", "champ": "gates",
                     "meddpicc": "gates", "gpctba-ci": "gates", "spiced": "gates"}
    bant = next(t for t in items if t["key"] == "bant")
    assert bant["stages"] == ["qualified", "discovery", "proposal", "negotiation", "lost"]


def test_the_customer_portrait_creates_its_fields_and_persona_reusing_what_exists(
        client: Any, admin_headers: dict[str, str]) -> None:
    define_field(client, admin_headers, "city", "text")  # the template's own type: reused, not duplicated

    response = client.post("/v1/personas/from-template", json={"template": "customer-portrait", "language": "ru"},
                           headers=admin_headers)

    body = response.get_json()
    assert response.status_code == 201, body
    assert body["fields_reused"] == ["city"] and len(body["fields_created"]) == 21
    [persona] = body["personas"]
    assert persona["ring"] == "core" and persona["version"] == 1 and persona["criteria"]
    assert any("а" <= ch <= "я" for ch in persona["description"].lower())  # noqa: RUF001 - Russian text
    fields = client.get("/v1/fields?page_size=100", headers=admin_headers).get_json()["total"]
    assert fields == 22
    again = client.post("/v1/personas/from-template", json={"template": "customer-portrait", "language": "ru"},
                        headers=admin_headers)
    assert_problem(again, 409)  # the persona's name is taken; nothing else was created
    assert client.get("/v1/fields?page_size=100", headers=admin_headers).get_json()["total"] == 22


def test_a_field_of_another_type_is_a_conflict_and_a_prefix_avoids_it(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "budget", "text")
    body = {"template": "bant", "connection_id": connection["id"], "pipeline": "default", "stages": BANT_STAGES}

    assert_problem(client.post("/v1/personas/from-template", json=body, headers=admin_headers), 409,
                   detail_contains="field_prefix")
    prefixed = client.post("/v1/personas/from-template", json={**body, "field_prefix": "bant_"},
                           headers=admin_headers)

    assert prefixed.status_code == 201, prefixed.get_json()
    assert "bant_budget" in prefixed.get_json()["fields_created"]


def test_bant_creates_cumulative_gates_on_the_mapped_stages(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    response = client.post("/v1/personas/from-template", json={
        "template": "bant", "connection_id": connection["id"], "pipeline": "default", "stages": BANT_STAGES,
        "mode": "warn"}, headers=admin_headers)

    body = response.get_json()
    assert response.status_code == 201, body
    gates = {g["stage"]: [r["field"] for r in g["requirements"]] for g in body["gates"]}
    assert gates == {"qualifiedtobuy": ["need", "authority"], "presentationscheduled": ["need", "authority", "budget"],
                     "decisionmakerboughtin": ["need", "authority", "budget", "timeline"],
                     "closedlost": ["loss_reason"]}
    assert {g["mode"] for g in body["gates"]} == {"warn"} and body["personas"] == []


def test_bad_template_requests_are_422_naming_the_problem(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    unknown = assert_problem(client.post("/v1/personas/from-template", json={"template": "nope"},
                                         headers=admin_headers), 422, detail_contains="known templates")
    unmapped = assert_problem(client.post("/v1/personas/from-template", json={"template": "bant"},
                                          headers=admin_headers), 422)
    wrong_stage = assert_problem(client.post("/v1/personas/from-template", json={
        "template": "bant", "connection_id": connection["id"], "pipeline": "default",
        "stages": {"closing": "qualifiedtobuy"}}, headers=admin_headers), 422)

    assert "customer-portrait" in unknown["detail"]
    assert {"stages", "connection_id", "pipeline"} <= error_paths(unmapped)
    assert "stages.closing" in error_paths(wrong_stage)
    assert client.get("/v1/fields", headers=admin_headers).get_json()["total"] == 0
