"""Guardrails on property mappings: a property the CRM does not have and a value_map key that is not one of
the property's options are refused with the closest valid names (read live from the CRM through its adapter);
a CRM that cannot be reached is a warning; one property may feed several fields."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import assert_problem, connection_body, define_field


def put(client: Any, headers: dict[str, str], cid: int, *mappings: dict[str, Any]) -> Any:
    return client.put(f"/v1/connections/{cid}/mappings", json={"mappings": list(mappings)}, headers=headers)


def test_given_a_property_the_crm_does_not_have_when_mapping_then_422_names_the_closest_properties(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "loss_reason")

    response = put(client, admin_headers, connection["id"], {"property": "loss_reasn_typo", "field": "loss_reason"})

    problem = assert_problem(response, 422, detail_contains="loss_reasn_typo")
    assert "loss_reason" in problem["errors"]["mappings[0].property"][0]
    assert client.get(f"/v1/connections/{connection['id']}/mappings",
                      headers=admin_headers).get_json() == {"mappings": []}


def test_given_an_unreachable_crm_when_mapping_then_accepted_with_a_warning_that_it_was_not_checked(
        client: Any, admin_headers: dict[str, str]) -> None:
    created = client.post("/v1/connections", json=connection_body("http://127.0.0.1:9"), headers=admin_headers)
    define_field(client, admin_headers, "loss_reason")

    response = put(client, admin_headers, created.get_json()["id"], {"property": "loss_reasn_typo",
                                                                     "field": "loss_reason"})

    assert response.status_code == 200, response.get_json()
    assert [m["property"] for m in response.get_json()["mappings"]] == ["loss_reasn_typo"]
    assert "could not be checked" in " ".join(response.get_json()["warnings"])


def test_given_a_value_map_key_that_is_not_an_option_when_mapping_then_422_lists_the_options_with_labels(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})

    response = put(client, admin_headers, connection["id"],
                   {"property": "industry", "field": "industry", "value_map": {"31": "retail", "it": "it"}})

    problem = assert_problem(response, 422)
    message = problem["errors"]["mappings[0].value_map.31"][0]
    assert "retail (Retail)" in message and "it (IT)" in message


def test_given_one_property_when_mapped_to_two_fields_then_both_mappings_are_kept(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})
    define_field(client, admin_headers, "sector")

    response = put(client, admin_headers, connection["id"], {"property": "industry", "field": "industry"},
                   {"property": "industry", "field": "sector"})

    assert response.status_code == 200, response.get_json()
    assert sorted(m["field"] for m in response.get_json()["mappings"]) == ["industry", "sector"]
    assert response.get_json()["warnings"] == []
