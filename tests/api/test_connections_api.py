"""/v1/connections: secrets stay secret, pipelines mirror the CRM (a HubSpot sandbox over loopback),
CRM failures become 502 problems, property mappings are validated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sandbox.hubspot import HubSpotSandbox
from service.models import Connection
from service.runtime import Runtime
from tests.api.conftest import (
    SANDBOX_SECRET,
    SANDBOX_TOKEN,
    assert_problem,
    connection_body,
    define_field,
    error_paths,
)

DEFAULT_STAGES = [
    ("appointmentscheduled", "open"), ("qualifiedtobuy", "open"), ("presentationscheduled", "open"),
    ("decisionmakerboughtin", "open"), ("contractsent", "open"), ("closedwon", "won"), ("closedlost", "lost"),
]


def create(client: Any, headers: dict[str, str], url: str, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/connections", json=connection_body(url, **changes), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_given_a_new_connection_then_no_response_ever_carries_its_secrets(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    created = client.post("/v1/connections", json=connection_body(sandbox.base_url), headers=admin_headers)
    cid = created.get_json()["id"]
    responses = [
        created,
        client.get("/v1/connections", headers=admin_headers),
        client.get(f"/v1/connections/{cid}", headers=admin_headers),
        client.patch(f"/v1/connections/{cid}", json={"name": "Renamed", "client_secret": SANDBOX_SECRET},
                     headers=admin_headers),
        client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers),
    ]

    for response in responses:
        assert response.status_code in (200, 201), response.get_json()
        text = response.get_data(as_text=True)
        assert SANDBOX_TOKEN not in text and SANDBOX_SECRET not in text
        assert "access_token" not in text and "client_secret" not in text and "credentials" not in text


def test_given_a_new_connection_then_the_stored_credentials_are_encrypted(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]

    with runtime.uow() as uow:
        stored = uow.session.scalars(select(Connection.credentials_encrypted).where(Connection.id == cid)).one()

    assert SANDBOX_TOKEN not in stored and SANDBOX_SECRET not in stored
    assert runtime.vault.decrypt(stored) == {"access_token": SANDBOX_TOKEN, "client_secret": SANDBOX_SECRET}


def test_given_a_new_connection_then_defaults_and_webhook_url_are_shown(client: Any,
                                                                        admin_headers: dict[str, str]) -> None:
    body = connection_body("http://127.0.0.1:9/")
    del body["base_url"]

    created = client.post("/v1/connections", json=body, headers=admin_headers).get_json()

    assert created["base_url"] == "https://api.hubapi.com"
    assert (created["language"], created["signature_versions"], created["active"]) == ("en", ["v3"], True)
    assert created["pipelines"] == [] and created["pipelines_synced_at"] is None
    assert created["webhook_url"] == f"http://localhost/v1/webhooks/{created['id']}"


def test_given_a_public_url_setting_then_the_webhook_url_uses_it(make_client: Callable[..., Any],
                                                                 admin_headers: dict[str, str]) -> None:
    public = make_client(public_url="https://qualify.example.com/")

    created = public.post("/v1/connections", json=connection_body("http://127.0.0.1:9"), headers=admin_headers)

    assert created.get_json()["webhook_url"] == f"https://qualify.example.com/v1/webhooks/{created.get_json()['id']}"


def test_given_connections_when_listing_then_paged_in_creation_order(client: Any,
                                                                     admin_headers: dict[str, str]) -> None:
    ids = [create(client, admin_headers, "http://127.0.0.1:9", name=f"Portal {n}")["id"] for n in range(3)]

    first = client.get("/v1/connections?page_size=2", headers=admin_headers).get_json()
    second = client.get("/v1/connections?page=2&page_size=2", headers=admin_headers).get_json()

    assert [c["id"] for c in first["items"] + second["items"]] == ids
    assert first["total"] == second["total"] == 3


def test_given_a_connection_when_patched_then_changes_are_kept_and_a_new_token_replaces_the_old(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]

    response = client.patch(f"/v1/connections/{cid}", json={
        "name": "EU portal", "language": "ru", "signature_versions": ["v3", "v1"], "placeholders": ["n/a"],
        "active": False, "access_token": "pat-rotated", "base_url": sandbox.base_url + "/"}, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    view = response.get_json()
    assert (view["name"], view["language"], view["signature_versions"], view["placeholders"], view["active"]) == (
        "EU portal", "ru", ["v3", "v1"], ["n/a"], False)
    assert view["base_url"] == sandbox.base_url
    with runtime.uow() as uow:
        secrets = runtime.vault.decrypt(uow.session.get_one(Connection, cid).credentials_encrypted)
    assert secrets == {"access_token": "pat-rotated", "client_secret": SANDBOX_SECRET}


@pytest.mark.parametrize(("body", "path"), [
    ({"kind": "salesforce"}, "kind"),
    ({"base_url": "ftp://crm.example.com"}, "base_url"),
    ({"access_token": ""}, "access_token"),
    ({"language": "de"}, "language"),
    ({"signature_versions": ["v4"]}, "signature_versions[0]"),
    ({"signature_versions": []}, "signature_versions"),
    ({"webhook_secret": "x"}, "webhook_secret"),
])
def test_given_an_invalid_connection_when_creating_then_422_naming_the_field(
        client: Any, admin_headers: dict[str, str], body: dict[str, Any], path: str) -> None:
    response = client.post("/v1/connections", json=connection_body("http://127.0.0.1:9", **body),
                           headers=admin_headers)

    problem = assert_problem(response, 422)
    assert path in error_paths(problem), problem
    assert SANDBOX_TOKEN not in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://10.1.2.3", "http://169.254.169.254",
                                 "http://[::1]:9000"])
def test_given_an_internal_crm_address_when_loopback_is_not_allowed_then_422_naming_base_url(
        make_client: Callable[..., Any], admin_headers: dict[str, str], url: str) -> None:
    strict = make_client(allow_loopback_crm=False)
    created = strict.post("/v1/connections", json=connection_body("https://api.hubapi.com"), headers=admin_headers)

    problem = assert_problem(strict.post("/v1/connections", json=connection_body(url), headers=admin_headers), 422)
    patched = strict.patch(f"/v1/connections/{created.get_json()['id']}", json={"base_url": url},
                           headers=admin_headers)

    assert error_paths(problem) == {"base_url"}
    assert error_paths(assert_problem(patched, 422)) == {"base_url"}
    assert strict.get("/v1/connections", headers=admin_headers).get_json()["total"] == 1


def test_given_a_crm_host_that_does_not_resolve_when_creating_then_422_naming_base_url(
        client: Any, admin_headers: dict[str, str]) -> None:
    response = client.post("/v1/connections", json=connection_body("https://crm.no-such-host.invalid"),
                           headers=admin_headers)

    assert error_paths(assert_problem(response, 422)) == {"base_url"}


def test_given_a_connection_when_purged_then_it_and_its_pipelines_are_gone(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    cid = connection["id"]

    assert client.delete(f"/v1/connections/{cid}?purge=true", headers=admin_headers).status_code == 204

    assert_problem(client.get(f"/v1/connections/{cid}", headers=admin_headers), 404)
    assert_problem(client.get(f"/v1/connections/{cid}/mappings", headers=admin_headers), 404)
    assert_problem(client.delete(f"/v1/connections/{cid}", headers=admin_headers), 404)
    assert client.get("/v1/connections", headers=admin_headers).get_json()["total"] == 0


def test_given_the_sandbox_when_refreshing_pipelines_then_stages_are_mirrored_in_order_with_their_kind(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]

    response = client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    view = response.get_json()
    assert view["pipelines_synced_at"] is not None
    assert [(p["id"], p["label"], p["order"]) for p in view["pipelines"]] == [
        ("default", "Sales Pipeline", 0), ("12345678", "Partners", 1)]
    default, partners = view["pipelines"]
    assert [(s["id"], s["kind"]) for s in default["stages"]] == DEFAULT_STAGES
    assert [s["order"] for s in default["stages"]] == sorted(s["order"] for s in default["stages"])
    assert default["stages"][1]["label"] == "Qualified To Buy"
    assert [(s["id"], s["kind"]) for s in partners["stages"]] == [
        ("12345679", "open"), ("12345680", "won"), ("12345681", "lost")]
    assert client.get(f"/v1/connections/{cid}", headers=admin_headers).get_json()["pipelines"] == view["pipelines"]


def test_given_the_crm_dropped_a_stage_when_refreshing_again_then_it_is_no_longer_listed(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox, connection: dict[str, Any]) -> None:
    with sandbox.lock:
        pipeline = sandbox.portal.pipelines["default"]
        pipeline["stages"] = [s for s in pipeline["stages"] if s["id"] != "presentationscheduled"]

    response = client.post(f"/v1/connections/{connection['id']}/pipelines/refresh", headers=admin_headers)

    stages = [s["id"] for s in response.get_json()["pipelines"][0]["stages"]]
    assert "presentationscheduled" not in stages and len(stages) == 6


def test_given_the_crm_is_down_when_refreshing_then_502_problem_and_nothing_changes(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]
    sandbox.stop()

    response = client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers)

    body = assert_problem(response, 502)
    assert body["title"] == "Bad Gateway"
    assert SANDBOX_TOKEN not in response.get_data(as_text=True)
    assert client.get(f"/v1/connections/{cid}", headers=admin_headers).get_json()["pipelines"] == []


def test_given_the_crm_answers_503_until_retries_run_out_when_refreshing_then_502(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]
    sandbox.fail_next("503", count=20, retry_after=0.01)

    assert_problem(client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers), 502)


def test_given_the_crm_rejects_the_token_when_refreshing_then_502_quoting_the_crm(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url, access_token="pat-wrong-token")["id"]

    response = client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers)

    body = assert_problem(response, 502, detail_contains="CRM answered")
    assert "pat-wrong-token" not in response.get_data(as_text=True)
    assert body["status"] == 502


def test_given_an_unknown_connection_when_refreshing_or_reading_properties_then_404(
        client: Any, admin_headers: dict[str, str]) -> None:
    assert_problem(client.post("/v1/connections/4242/pipelines/refresh", headers=admin_headers), 404)
    assert_problem(client.get("/v1/connections/4242/properties", headers=admin_headers), 404)


def test_given_the_sandbox_when_reading_properties_then_the_portrait_properties_are_listed_live(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str],
        connection: dict[str, Any]) -> None:
    response = client.get(f"/v1/connections/{connection['id']}/properties", headers=manager_headers)

    assert response.status_code == 200, response.get_json()
    properties = {p["name"]: p for p in response.get_json()["items"]}
    assert {"dealname", "amount", "industry", "budget", "channels"} <= set(properties)
    industry = properties["industry"]
    assert (industry["label"], industry["type"], industry["field_type"]) == ("Industry", "enumeration", "select")
    assert {"value": "retail", "label": "Retail"} in industry["options"]


def test_given_the_crm_rejects_the_token_when_reading_properties_then_502(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    cid = create(client, admin_headers, sandbox.base_url)["id"]
    sandbox.fail_next("401")

    assert_problem(client.get(f"/v1/connections/{cid}/properties", headers=admin_headers), 502)


def test_given_fields_when_mappings_are_put_then_they_replace_the_old_ones_and_read_back_sorted(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    cid = connection["id"]
    for key in ("industry", "budget", "pains"):
        define_field(client, admin_headers, key)
    first = {"mappings": [{"property": "pain_points", "field": "pains"}]}
    assert client.put(f"/v1/connections/{cid}/mappings", json=first, headers=admin_headers).status_code == 200
    second = {"mappings": [
        {"property": "industry", "field": "industry", "value_map": {"it": "it"}},
        {"property": "budget", "field": "budget"},
    ]}

    response = client.put(f"/v1/connections/{cid}/mappings", json=second, headers=admin_headers)

    assert response.status_code == 200, response.get_json()
    expected = [{"property": "budget", "field": "budget", "value_map": {}},
                {"property": "industry", "field": "industry", "value_map": {"it": "it"}}]
    assert response.get_json() == {"mappings": expected, "warnings": []}
    assert client.get(f"/v1/connections/{cid}/mappings", headers=admin_headers).get_json()["mappings"] == expected


def test_given_an_empty_list_when_mappings_are_put_then_all_mappings_are_removed(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    cid = connection["id"]
    define_field(client, admin_headers, "industry")
    client.put(f"/v1/connections/{cid}/mappings", json={"mappings": [{"property": "industry", "field": "industry"}]},
               headers=admin_headers)

    response = client.put(f"/v1/connections/{cid}/mappings", json={"mappings": []}, headers=admin_headers)

    assert response.get_json() == {"mappings": [], "warnings": []}


def test_given_unknown_fields_and_duplicates_when_mappings_are_put_then_422_per_item_and_nothing_changes(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    cid = connection["id"]
    define_field(client, admin_headers, "industry")
    define_field(client, admin_headers, "budget")
    keep = {"mappings": [{"property": "industry", "field": "industry"}]}
    client.put(f"/v1/connections/{cid}/mappings", json=keep, headers=admin_headers)
    bad = {"mappings": [
        {"property": "industry", "field": "industry"},
        {"property": "company_size", "field": "headcount"},
        {"property": "industry", "field": "industry"},
        {"property": "budget", "field": "industry"},
    ]}

    problem = assert_problem(client.put(f"/v1/connections/{cid}/mappings", json=bad, headers=admin_headers), 422)

    assert error_paths(problem) == {"mappings[1].field", "mappings[2].property", "mappings[2].field",
                                    "mappings[3].field"}
    assert "headcount" in problem["errors"]["mappings[1].field"][0]
    assert client.get(f"/v1/connections/{cid}/mappings", headers=admin_headers).get_json() == {
        "mappings": [{"property": "industry", "field": "industry", "value_map": {}}]}


@pytest.mark.parametrize(("body", "path"), [
    ({}, "mappings"),
    ({"mappings": [{"property": "industry"}]}, "mappings[0].field"),
    ({"mappings": [{"property": "industry", "field": "industry", "extra": 1}]}, "mappings[0].extra"),
    ({"mappings": [{"property": "industry", "field": "industry", "value_map": {"a": 1}}]},
     "mappings[0].value_map.a.value"),
])
def test_given_malformed_mappings_when_put_then_422_naming_the_item(client: Any, admin_headers: dict[str, str],
                                                                   connection: dict[str, Any],
                                                                   body: dict[str, Any], path: str) -> None:
    response = client.put(f"/v1/connections/{connection['id']}/mappings", json=body, headers=admin_headers)

    assert path in error_paths(assert_problem(response, 422))


def test_given_an_unknown_connection_when_putting_mappings_then_404(client: Any,
                                                                    admin_headers: dict[str, str]) -> None:
    assert_problem(client.put("/v1/connections/4242/mappings", json={"mappings": []}, headers=admin_headers), 404)
