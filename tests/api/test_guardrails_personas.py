"""Guardrail: a persona whose criteria use fields no connection maps scores every lead 50 / C with nothing
known, so it "matches" everyone; its create, update and read answers warn about it."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import define_field

CRITERION = {"field": "industry", "matcher": "equals", "value": "retail", "kind": "must"}


def test_given_a_persona_on_unmapped_fields_then_create_update_and_get_warn_until_a_connection_maps_them(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})

    created = client.post("/v1/personas", json={"name": "Retail", "criteria": [CRITERION]}, headers=admin_headers)
    pid = created.get_json()["id"]
    updated = client.patch(f"/v1/personas/{pid}", json={"segment": "SMB"}, headers=admin_headers)
    read = client.get(f"/v1/personas/{pid}", headers=admin_headers)

    for response in (created, updated, read):
        assert response.status_code in (200, 201), response.get_json()
        warnings = response.get_json()["warnings"]
        assert len(warnings) == 1 and "industry" in warnings[0], warnings
    mapped = client.put(f"/v1/connections/{connection['id']}/mappings",
                        json={"mappings": [{"property": "industry", "field": "industry"}]}, headers=admin_headers)
    assert mapped.status_code == 200, mapped.get_json()
    assert client.get(f"/v1/personas/{pid}", headers=admin_headers).get_json()["warnings"] == []
