"""Gates that require a persona fit: configuration through /v1/gates and the decision of
POST /v1/gate/check, on a connection refreshed from the HubSpot sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import assert_problem, define_field, error_paths

CRITERIA = [
    {"field": "industry", "matcher": "in", "values": ["retail"], "weight": 3},
    {"field": "budget", "matcher": "range", "min": 1000},
    {"field": "industry", "matcher": "equals", "value": "gambling", "kind": "disqualifier"},
]


@pytest.fixture
def persona(client: Any, admin_headers: dict[str, str]) -> dict[str, Any]:
    """Industry and budget fields and a persona over them."""
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it", "gambling"]})
    define_field(client, admin_headers, "budget", "number")
    response = client.post("/v1/personas", json={"name": "Retail", "criteria": CRITERIA}, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def gate(client: Any, headers: dict[str, str], connection_id: int, **body: Any) -> Any:
    return client.post("/v1/gates", json={"connection_id": connection_id, "pipeline": "default",
                                          "stage": "qualifiedtobuy", "mode": "enforce", **body}, headers=headers)


def check(client: Any, headers: dict[str, str], connection_id: int, values: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/gate/check", json={"connection_id": connection_id, "pipeline": "default",
                                                   "from_stage": "appointmentscheduled",
                                                   "to_stage": "qualifiedtobuy", "values": values}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_a_gate_may_require_only_a_persona_fit(client: Any, admin_headers: dict[str, str],
                                               connection: dict[str, Any], persona: dict[str, Any]) -> None:
    response = gate(client, admin_headers, connection["id"], persona_requirement={"min_score": 60})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["requirements"] == []
    assert response.get_json()["persona_requirement"] == {"persona_id": None, "min_score": 60,
                                                          "not_disqualified": False}


def test_a_gate_without_any_requirement_or_with_an_empty_or_unknown_persona_one_is_422(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any], persona: dict[str, Any]) -> None:
    empty = assert_problem(gate(client, admin_headers, connection["id"], requirements=[]), 422)
    nothing = assert_problem(gate(client, admin_headers, connection["id"], persona_requirement={}), 422)
    unknown = assert_problem(gate(client, admin_headers, connection["id"],
                                  persona_requirement={"persona_id": 999, "min_score": 10}), 422)

    assert error_paths(empty) == {"requirements"}
    assert error_paths(nothing) == {"persona_requirement"}
    assert error_paths(unknown) == {"persona_requirement.persona_id"}


def test_gate_check_blocks_a_lead_below_the_fit_and_names_the_criterion(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str], connection: dict[str, Any],
        persona: dict[str, Any]) -> None:
    gate(client, admin_headers, connection["id"], requirements=[{"field": "budget"}],
         persona_requirement={"persona_id": persona["id"], "min_score": 60})

    low = check(client, manager_headers, connection["id"], {"industry": "it", "budget": "5000"})
    fits = check(client, manager_headers, connection["id"], {"industry": "retail", "budget": "5000"})
    missing = check(client, manager_headers, connection["id"], {"industry": "retail"})

    assert low["outcome"] == "blocked"  # 50 + 50 * (-3 + 1) / 4 = 25
    [issue] = low["issues"]
    assert (issue["reason"], issue["field"], issue["stage"]) == ("persona", "industry", "qualifiedtobuy")
    assert "Fit to Retail is 25, needs at least 60" in issue["message"] and issue["message"] in low["message"]
    assert fits["outcome"] == "allowed" and fits["issues"] == []
    # budget missing fails the field requirement; its unknown is neutral: 50 + 50 * 3 / 4 = 87.5 -> 88 fits
    assert [i["reason"] for i in missing["issues"]] == ["missing"]


def test_gate_check_blocks_a_disqualified_lead(client: Any, admin_headers: dict[str, str],
                                               connection: dict[str, Any], persona: dict[str, Any]) -> None:
    gate(client, admin_headers, connection["id"], persona_requirement={"not_disqualified": True})

    decision = check(client, admin_headers, connection["id"], {"industry": "gambling", "budget": "5000"})

    assert decision["outcome"] == "blocked"
    assert decision["issues"][0]["message"].startswith("The lead is disqualified by Retail")


def test_a_persona_a_gate_requires_cannot_be_deleted(client: Any, admin_headers: dict[str, str],
                                                     connection: dict[str, Any], persona: dict[str, Any]) -> None:
    created = gate(client, admin_headers, connection["id"],
                   persona_requirement={"persona_id": persona["id"], "min_score": 50}).get_json()

    assert_problem(client.delete(f"/v1/personas/{persona['id']}", headers=admin_headers), 409,
                   detail_contains=f"gates [{created['id']}]")
