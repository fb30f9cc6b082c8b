"""/v1/gates (configuration) and POST /v1/gate/check (the synchronous decision), on a connection
whose pipelines were refreshed from a HubSpot sandbox."""

# Russian text is intentional here: Cyrillic letters are not confusables of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

import pytest

from service.models import Connection
from service.runtime import Runtime
from tests.api.conftest import SANDBOX_TOKEN, assert_problem, define_field, define_gate, error_paths


@pytest.fixture
def portrait(client: Any, admin_headers: dict[str, str]) -> None:
    """Industry (enum, with a Russian label), budget (number >= 1000) and contact email fields."""
    define_field(client, admin_headers, "industry", "enum", label_ru="Отрасль",
                 constraints={"options": ["retail", "it"]})
    define_field(client, admin_headers, "budget", "number", label_ru="Бюджет", constraints={"min": 1000})
    define_field(client, admin_headers, "email", "email", label_ru="Почта")


def check(client: Any, headers: dict[str, str], connection_id: int, to_stage: str, values: dict[str, Any],
          **extra: Any) -> dict[str, Any]:
    body = {"connection_id": connection_id, "pipeline": "default", "to_stage": to_stage, "values": values, **extra}
    response = client.post("/v1/gate/check", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_given_a_refreshed_connection_when_creating_a_gate_then_201_with_stage_label(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy", "mode": "warn",
            "description": "Know the customer first",
            "requirements": [{"field": "industry"},
                             {"field": "budget", "required_if": {"field": "industry", "op": "eq", "value": "it"}}]}

    response = client.post("/v1/gates", json=body, headers=admin_headers)

    assert response.status_code == 201, response.get_json()
    gate = response.get_json()
    assert (gate["connection_id"], gate["pipeline"], gate["stage"], gate["stage_label"], gate["mode"]) == (
        connection["id"], "default", "qualifiedtobuy", "Qualified To Buy", "warn")
    assert gate["requirements"] == [
        {"field": "industry", "required_if": None},
        {"field": "budget", "required_if": {"field": "industry", "op": "eq", "value": "it"}}]
    del gate["would_block"]
    assert client.get(f"/v1/gates/{gate['id']}", headers=admin_headers).get_json() == gate


def test_given_no_mode_when_creating_a_gate_then_it_audits(client: Any, admin_headers: dict[str, str],
                                                           connection: dict[str, Any], portrait: None) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "industry"}]}

    assert client.post("/v1/gates", json=body, headers=admin_headers).get_json()["mode"] == "audit"


@pytest.mark.parametrize(("pipeline", "stage"), [("default", "nosuchstage"), ("nosuchpipeline", "qualifiedtobuy"),
                                                 ("12345678", "qualifiedtobuy")])
def test_given_an_unknown_stage_or_pipeline_when_creating_a_gate_then_422(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None,
        pipeline: str, stage: str) -> None:
    body = {"connection_id": connection["id"], "pipeline": pipeline, "stage": stage,
            "requirements": [{"field": "industry"}]}

    problem = assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 422,
                             detail_contains="refresh")

    assert ("pipeline" if pipeline == "nosuchpipeline" else "stage") in error_paths(problem)


def test_given_a_connection_never_refreshed_when_creating_a_gate_then_422(
        client: Any, admin_headers: dict[str, str], portrait: None) -> None:
    created = client.post("/v1/connections", json={"name": "P", "kind": "hubspot", "access_token": "t",
                                                   "client_secret": "s"}, headers=admin_headers).get_json()
    body = {"connection_id": created["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "industry"}]}

    assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 422)


def test_given_an_unknown_connection_when_creating_a_gate_then_404(client: Any, admin_headers: dict[str, str],
                                                                   portrait: None) -> None:
    body = {"connection_id": 4242, "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "industry"}]}

    assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 404, detail_contains="4242")


def test_given_unknown_and_repeated_fields_when_creating_a_gate_then_422_per_requirement(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "industry"}, {"field": "headcount"}, {"field": "industry"}]}

    problem = assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 422)

    assert error_paths(problem) == {"requirements[1].field", "requirements[2].field"}
    assert "headcount" in problem["errors"]["requirements[1].field"][0]
    assert client.get("/v1/gates", headers=admin_headers).get_json()["total"] == 0


@pytest.mark.parametrize(("condition", "where"), [
    ({"field": "industry", "op": "resembles", "value": "it"}, "op"),
    ({"field": "headcount", "op": "eq", "value": 5}, "field"),
    ({"all": [{"field": "industry", "op": "eq", "value": "it"}, {"field": "budget", "op": "gt", "value": "lots"}]},
     "all[1]"),
    ({"any": "industry"}, "any"),
    ({"field": "industry", "op": "in", "value": []}, "value"),
])
def test_given_a_bad_required_if_when_creating_a_gate_then_422_with_the_path_of_the_fault(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None,
        condition: dict[str, Any], where: str) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "email"}, {"field": "budget", "required_if": condition}]}

    problem = assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 422)

    paths = error_paths(problem)
    assert paths, problem
    assert all(p.startswith("requirements[1].required_if") for p in paths), paths
    assert any(where in p for p in paths), paths


def test_given_a_bad_required_if_then_the_error_path_names_required_if_once(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "budget", "required_if": {"field": "industry", "op": "resembles"}}]}

    problem = assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 422)

    assert "requirements[0].required_if.op" in error_paths(problem), problem


@pytest.mark.parametrize(("body", "path"), [
    ({"requirements": []}, "requirements"),
    ({"requirements": [{"field": "industry", "required_if": "always"}]}, "requirements[0].required_if"),
    ({"mode": "block"}, "mode"),
    ({"connection_id": "1"}, "connection_id"),
    ({"connection_id": 0}, "connection_id"),
    ({"priority": 1}, "priority"),
])
def test_given_a_malformed_gate_when_creating_then_422_naming_the_field(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None,
        body: dict[str, Any], path: str) -> None:
    base = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "industry"}]}

    problem = assert_problem(client.post("/v1/gates", json={**base, **body}, headers=admin_headers), 422)

    assert path in error_paths(problem), problem


def test_given_a_stage_with_a_gate_when_creating_another_then_409(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])
    body = {"connection_id": connection["id"], "pipeline": "default", "stage": "qualifiedtobuy",
            "requirements": [{"field": "budget"}]}

    assert_problem(client.post("/v1/gates", json=body, headers=admin_headers), 409, detail_contains="already")


def test_given_a_gate_when_patched_then_mode_requirements_and_description_change(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    gate = define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])

    response = client.patch(f"/v1/gates/{gate['id']}", json={
        "mode": "audit", "description": "soft launch", "requirements": [{"field": "budget"}]}, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    patched = response.get_json()
    assert (patched["mode"], patched["description"], patched["requirements"], patched["stage"]) == (
        "audit", "soft launch", [{"field": "budget", "required_if": None}], "qualifiedtobuy")


@pytest.mark.parametrize(("body", "path"), [
    ({"requirements": [{"field": "headcount"}]}, "requirements[0].field"),
    ({"stage": "contractsent"}, "stage"),
    ({"mode": "off"}, "mode"),
])
def test_given_a_gate_when_patched_with_bad_data_then_422_and_unchanged(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None,
        body: dict[str, Any], path: str) -> None:
    gate = define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])

    problem = assert_problem(client.patch(f"/v1/gates/{gate['id']}", json=body, headers=admin_headers), 422)

    assert path in error_paths(problem)
    assert client.get(f"/v1/gates/{gate['id']}", headers=admin_headers).get_json() == gate


def test_given_a_gate_when_deleted_then_204_and_404_afterwards(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> None:
    gate = define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])

    assert client.delete(f"/v1/gates/{gate['id']}", headers=admin_headers).status_code == 204

    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(f"/v1/gates/{gate['id']}", method=method, json={"mode": "warn"} if method == "PATCH"
                               else None, headers=admin_headers)
        assert_problem(response, 404)


def test_given_gates_on_two_connections_when_listing_by_connection_then_only_its_gates(
        client: Any, admin_headers: dict[str, str], sandbox: Any, connection: dict[str, Any], portrait: None) -> None:
    other = client.post("/v1/connections", json={"name": "Second", "kind": "hubspot", "base_url": sandbox.base_url,
                                                  "access_token": SANDBOX_TOKEN, "client_secret": "x"},
                        headers=admin_headers).get_json()
    assert client.post(f"/v1/connections/{other['id']}/pipelines/refresh", headers=admin_headers).status_code == 200
    mine = [define_gate(client, admin_headers, connection["id"], stage, ["industry"])["id"]
            for stage in ("qualifiedtobuy", "contractsent")]
    theirs = define_gate(client, admin_headers, other["id"], "qualifiedtobuy", ["budget"])["id"]

    filtered = client.get(f"/v1/gates?connection_id={connection['id']}", headers=admin_headers).get_json()
    everything = client.get("/v1/gates", headers=admin_headers).get_json()
    paged = client.get("/v1/gates?page=2&page_size=2", headers=admin_headers).get_json()

    assert [g["id"] for g in filtered["items"]] == mine and filtered["total"] == 2
    assert [g["id"] for g in everything["items"]] == [*mine, theirs] and everything["total"] == 3
    assert [g["id"] for g in paged["items"]] == [theirs]
    assert client.get("/v1/gates?connection_id=999", headers=admin_headers).get_json()["total"] == 0
    assert_problem(client.get("/v1/gates?connection_id=abc", headers=admin_headers), 422)


# ---- POST /v1/gate/check ------------------------------------------------------------------------


@pytest.fixture
def gated(client: Any, admin_headers: dict[str, str], connection: dict[str, Any], portrait: None) -> int:
    """Gates: qualifiedtobuy needs industry; presentationscheduled needs budget and email."""
    define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"])
    define_gate(client, admin_headers, connection["id"], "presentationscheduled", ["budget", "email"])
    return int(connection["id"])


def test_given_missing_and_invalid_fields_when_checking_then_blocked_with_reason_codes(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled",
                     {"industry": "retail", "budget": 10, "email": None}, from_stage="qualifiedtobuy")

    assert (decision["outcome"], decision["direction"]) == ("blocked", "forward")
    assert decision["gated_stages"] == ["presentationscheduled"]
    issues = [(i["field"], i["reason"], i["constraint"], i["stage"], i["mode"]) for i in decision["issues"]]
    assert issues == [("budget", "invalid", "min", "presentationscheduled", "enforce"),
                      ("email", "missing", None, "presentationscheduled", "enforce")]
    assert "Budget" in decision["message"] and "Email" in decision["message"]
    assert decision["issues"][0]["message"] == "Budget is invalid (must be at least 1000)"


def test_given_every_field_filled_when_checking_then_allowed(client: Any, manager_headers: dict[str, str],
                                                             gated: int) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled",
                     {"industry": "it", "budget": "5000", "email": "ceo@example.com"}, from_stage="qualifiedtobuy")

    assert (decision["outcome"], decision["issues"]) == ("allowed", [])


def test_given_a_skipped_stage_when_checking_then_the_skipped_gate_is_required_too(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled",
                     {"budget": 5000, "email": "ceo@example.com"}, from_stage="appointmentscheduled")

    assert decision["outcome"] == "blocked"
    assert decision["gated_stages"] == ["qualifiedtobuy", "presentationscheduled"]
    assert [(i["field"], i["stage"], i["reason"]) for i in decision["issues"]] == [
        ("industry", "qualifiedtobuy", "missing")]


def test_given_no_source_stage_when_checking_then_every_gate_up_to_the_target_applies(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled", {})

    assert decision["direction"] == "enter"
    assert [i["field"] for i in decision["issues"]] == ["industry", "budget", "email"]


def test_given_a_backward_move_when_checking_then_allowed_whatever_is_missing(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "qualifiedtobuy", {}, from_stage="contractsent")

    assert (decision["outcome"], decision["direction"], decision["issues"]) == ("allowed", "backward", [])


def test_given_a_warn_gate_when_checking_then_warned_not_blocked(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str], connection: dict[str, Any],
        portrait: None) -> None:
    define_gate(client, admin_headers, connection["id"], "qualifiedtobuy", ["industry"], mode="warn")

    decision = check(client, manager_headers, connection["id"], "qualifiedtobuy", {},
                     from_stage="appointmentscheduled")

    assert decision["outcome"] == "warned"
    assert decision["issues"][0]["mode"] == "warn"


def test_given_language_ru_when_checking_then_messages_are_russian(client: Any, manager_headers: dict[str, str],
                                                                  gated: int) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled", {"industry": "retail", "budget": 5},
                     from_stage="qualifiedtobuy", language="ru")

    assert decision["message"].startswith("Переход на этап")
    assert [i["label"] for i in decision["issues"]] == ["Бюджет", "Почта"]
    assert [i["message"] for i in decision["issues"]] == [
        "Поле «Бюджет» заполнено неверно (должно быть не меньше 1000)", "Не заполнено поле «Почта»"]


def test_given_a_russian_connection_when_checking_without_language_then_russian(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str], gated: int) -> None:
    client.patch(f"/v1/connections/{gated}", json={"language": "ru"}, headers=admin_headers)

    decision = check(client, manager_headers, gated, "qualifiedtobuy", {}, from_stage="appointmentscheduled")

    assert decision["issues"][0]["message"] == "Не заполнено поле «Отрасль»"


def test_given_an_unknown_connection_when_checking_then_404(client: Any, manager_headers: dict[str, str]) -> None:
    body = {"connection_id": 4242, "pipeline": "default", "to_stage": "qualifiedtobuy"}

    assert_problem(client.post("/v1/gate/check", json=body, headers=manager_headers), 404, detail_contains="4242")


@pytest.mark.parametrize("change", [{"to_stage": "nosuchstage"}, {"pipeline": "nosuchpipeline"},
                                    {"pipeline": "12345678"}])
def test_given_an_unknown_target_stage_when_checking_then_422(client: Any, manager_headers: dict[str, str],
                                                              gated: int, change: dict[str, str]) -> None:
    body = {"connection_id": gated, "pipeline": "default", "to_stage": "qualifiedtobuy",
            "from_stage": "appointmentscheduled", **change}

    problem = assert_problem(client.post("/v1/gate/check", json=body, headers=manager_headers), 422)

    assert error_paths(problem), problem


def test_given_an_unknown_source_stage_when_checking_then_the_move_counts_as_entering_the_pipeline(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "qualifiedtobuy", {}, from_stage="nosuchstage")

    assert (decision["direction"], decision["outcome"]) == ("enter", "blocked")


@pytest.mark.parametrize("values", [
    {"industry": ["retail"], "budget": {"amount": 5000}, "email": 42},
    {"industry": True, "budget": [1, 2], "email": ["a@b.c"]},
    {"industry": {"nested": {"deep": [1]}}, "budget": "NaN", "email": 1.5},
    {"industry": "x" * 20000, "budget": "1e999999", "email": "@"},
])
def test_given_values_of_the_wrong_shape_when_checking_then_they_are_reported_invalid_not_500(
        client: Any, manager_headers: dict[str, str], gated: int, values: dict[str, Any]) -> None:
    decision = check(client, manager_headers, gated, "presentationscheduled", values,
                     from_stage="appointmentscheduled")

    assert decision["outcome"] == "blocked"
    assert {i["field"]: i["reason"] for i in decision["issues"]} == {
        "industry": "invalid", "budget": "invalid", "email": "invalid"}


def test_given_values_for_unconfigured_fields_when_checking_then_they_are_ignored(
        client: Any, manager_headers: dict[str, str], gated: int) -> None:
    decision = check(client, manager_headers, gated, "qualifiedtobuy", {"industry": "it", "shoe_size": 44},
                     from_stage="appointmentscheduled")

    assert decision["outcome"] == "allowed"


@pytest.mark.parametrize(("body", "path"), [
    ({"values": ["industry"]}, "values"),
    ({"language": "de"}, "language"),
    ({"to_stage": ""}, "to_stage"),
    ({"dry_run": True}, "dry_run"),
])
def test_given_a_malformed_check_when_posting_then_422_naming_the_field(
        client: Any, manager_headers: dict[str, str], gated: int, body: dict[str, Any], path: str) -> None:
    base = {"connection_id": gated, "pipeline": "default", "to_stage": "qualifiedtobuy"}

    problem = assert_problem(client.post("/v1/gate/check", json={**base, **body}, headers=manager_headers), 422)

    assert path in error_paths(problem)


def test_given_a_purged_connection_when_a_new_one_is_made_then_checks_use_the_new_gates(
        request: pytest.FixtureRequest, client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str],
        runtime: Runtime, sandbox: Any, gated: int) -> None:
    old = check(client, manager_headers, gated, "qualifiedtobuy", {}, from_stage="appointmentscheduled")
    assert old["outcome"] == "blocked"
    old_version = config_version(runtime, gated)
    assert client.delete(f"/v1/connections/{gated}?purge=true", headers=admin_headers).status_code == 204
    body = {"name": "New portal", "kind": "hubspot", "base_url": sandbox.base_url,
            "access_token": SANDBOX_TOKEN, "client_secret": "x"}
    new_id = client.post("/v1/connections", json=body, headers=admin_headers).get_json()["id"]
    assert new_id != gated  # ids are never reused (tests/api/test_connection_delete.py)
    client.post(f"/v1/connections/{new_id}/pipelines/refresh", headers=admin_headers)
    while config_version(runtime, new_id) < old_version:  # ordinary edits, no gates
        client.patch(f"/v1/connections/{new_id}", json={"name": "Renamed"}, headers=admin_headers)

    decision = check(client, manager_headers, new_id, "qualifiedtobuy", {}, from_stage="appointmentscheduled")

    assert client.get(f"/v1/gates?connection_id={new_id}", headers=admin_headers).get_json()["total"] == 0
    assert (decision["outcome"], decision["issues"]) == ("allowed", [])


def config_version(runtime: Runtime, connection_id: int) -> int:
    with runtime.uow() as uow:
        return int(uow.session.get_one(Connection, connection_id).config_version)
