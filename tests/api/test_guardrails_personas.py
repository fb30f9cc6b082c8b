"""Guardrail: a persona whose criteria use fields no connection maps scores every lead 50 / C with nothing
known, so it "matches" everyone; its create, update and read answers warn about it, and so does the report (its persona
mix would mislead)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import define_field
from tests.conftest import make_key
from tests.e2e.browser.test_pages_http import signed_in_client

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


def test_given_a_persona_on_unmapped_fields_then_the_report_warns_beside_the_persona_mix_until_mapped(
        app: Any, client: Any, runtime: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    define_field(client, admin_headers, "industry", "enum", constraints={"options": ["retail", "it"]})
    pid = client.post("/v1/personas", json={"name": "Retail", "criteria": [CRITERION]},
                      headers=admin_headers).get_json()["id"]
    client.post("/v1/personas", json={"name": "Mapped later", "criteria": []}, headers=admin_headers)
    pages = signed_in_client(app, make_key(runtime, "manager"))

    report = client.get("/v1/reports/qualification", headers=admin_headers).get_json()
    (warned,) = report["persona_mix"]["warnings"]
    assert (warned["persona_id"], warned["name"]) == (pid, "Retail") and "industry" in warned["warnings"][0]
    html = pages.get("/reports").get_data(as_text=True)
    assert 'id="persona-warnings"' in html and "<strong>Retail</strong>" in html
    assert "No connection maps a CRM property to industry: every criterion is unknown" in html
    russian = pages.get("/reports", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Ни одно подключение не сопоставляет свойство CRM полям industry: каждый критерий" in russian
    admin_pages = signed_in_client(app, make_key(runtime, "admin"))
    persona_page = admin_pages.get(f"/admin/personas/{pid}", headers={"Accept-Language": "ru"})
    assert "Ни одно подключение не сопоставляет свойство CRM полям industry" in persona_page.get_data(as_text=True)

    client.put(f"/v1/connections/{connection['id']}/mappings",
               json={"mappings": [{"property": "industry", "field": "industry"}]}, headers=admin_headers)
    assert client.get("/v1/reports/qualification", headers=admin_headers).get_json()["persona_mix"]["warnings"] == []
    assert 'id="persona-warnings"' not in pages.get("/reports").get_data(as_text=True)
