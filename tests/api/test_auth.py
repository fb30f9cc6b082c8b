"""API keys: 401 without a valid key, 403 for a manager changing configuration, open health and webhooks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import update

from adapters.hubspot_webhooks import sign_v3
from service.db import utcnow
from service.models import ApiKey
from service.runtime import Runtime
from tests.api.conftest import SANDBOX_SECRET, assert_problem, connection_body, define_field

LIST_ENDPOINTS = ["/v1/fields", "/v1/connections", "/v1/gates", "/v1/records", "/v1/transitions", "/v1/events"]

# Every write a manager may not make; ids need not exist: the role is checked before anything else.
MANAGER_FORBIDDEN: list[tuple[str, str, Any]] = [
    ("POST", "/v1/fields", {"key": "industry", "label": "Industry", "type": "text"}),
    ("PATCH", "/v1/fields/1", {"label": "Sector"}),
    ("DELETE", "/v1/fields/1", None),
    ("POST", "/v1/connections", connection_body("http://127.0.0.1:9")),
    ("PATCH", "/v1/connections/1", {"name": "Renamed"}),
    ("DELETE", "/v1/connections/1", None),
    ("POST", "/v1/connections/1/pipelines/refresh", None),
    ("PUT", "/v1/connections/1/mappings", {"mappings": []}),
    ("POST", "/v1/gates", {"connection_id": 1, "pipeline": "default", "stage": "qualifiedtobuy",
                           "requirements": [{"field": "industry"}]}),
    ("PATCH", "/v1/gates/1", {"mode": "warn"}),
    ("DELETE", "/v1/gates/1", None),
    ("POST", "/v1/events/1/replay", None),
]


def test_given_no_authorization_when_listing_fields_then_401_problem_with_www_authenticate(client: Any) -> None:
    response = client.get("/v1/fields")

    body = assert_problem(response, 401, detail_contains="Authorization: Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["title"] == "Unauthorized"


@pytest.mark.parametrize("header", [
    "Bearer",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "qk_12345678_abcdef",
    "Bearer not-a-qualify-key",
    "Bearer qk_short_abc",
    "Bearer qk_12345678_unknownsecretunknownsecret",
])
def test_given_malformed_or_unknown_key_when_calling_then_401(client: Any, admin_headers: dict[str, str],
                                                               header: str) -> None:
    response = client.get("/v1/fields", headers={"Authorization": header})

    assert_problem(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_given_a_key_with_a_changed_secret_when_calling_then_401(client: Any, admin_headers: dict[str, str]) -> None:
    real = admin_headers["Authorization"]

    response = client.get("/v1/fields", headers={"Authorization": real[:-4] + "AAAA"})

    assert_problem(response, 401, detail_contains="unknown or revoked")


def test_given_a_revoked_key_when_calling_then_401(client: Any, runtime: Runtime,
                                                    manager_headers: dict[str, str]) -> None:
    with runtime.uow() as uow:
        uow.session.execute(update(ApiKey).values(revoked_at=utcnow()))
        uow.commit()

    response = client.get("/v1/fields", headers=manager_headers)

    assert_problem(response, 401, detail_contains="revoked")


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
def test_given_manager_key_when_listing_then_200_page(client: Any, manager_headers: dict[str, str],
                                                       path: str) -> None:
    response = client.get(path, headers=manager_headers)

    assert response.status_code == 200, response.get_json()
    assert {"items", "total", "page", "page_size"} <= set(response.get_json())


def test_given_manager_key_when_reading_one_connection_and_its_mappings_then_200(
        client: Any, manager_headers: dict[str, str], connection: dict[str, Any]) -> None:
    for path in (f"/v1/connections/{connection['id']}", f"/v1/connections/{connection['id']}/mappings"):
        assert client.get(path, headers=manager_headers).status_code == 200, path


@pytest.mark.parametrize(("method", "path", "body"), MANAGER_FORBIDDEN,
                         ids=[f"{m} {p}" for m, p, _ in MANAGER_FORBIDDEN])
def test_given_manager_key_when_changing_configuration_then_403_problem(
        client: Any, manager_headers: dict[str, str], method: str, path: str, body: Any) -> None:
    response = client.open(path, method=method, json=body, headers=manager_headers)

    problem = assert_problem(response, 403, detail_contains="manager")
    assert problem["title"] == "Forbidden"
    assert "WWW-Authenticate" not in response.headers


def test_given_manager_key_when_checking_a_move_then_200(client: Any, admin_headers: dict[str, str],
                                                         manager_headers: dict[str, str],
                                                         connection: dict[str, Any]) -> None:
    body = {"connection_id": connection["id"], "pipeline": "default", "to_stage": "qualifiedtobuy"}

    response = client.post("/v1/gate/check", json=body, headers=manager_headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "allowed"


def test_given_admin_key_when_changing_every_kind_of_configuration_then_none_is_refused(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    cid = connection["id"]
    field = define_field(client, admin_headers, "industry")
    calls = [
        ("PATCH", f"/v1/fields/{field['id']}", {"label": "Sector"}, 200),
        ("PATCH", f"/v1/connections/{cid}", {"name": "Renamed"}, 200),
        ("PUT", f"/v1/connections/{cid}/mappings", {"mappings": [{"property": "industry", "field": "industry"}]},
         200),
        ("POST", f"/v1/connections/{cid}/pipelines/refresh", None, 200),
        ("POST", "/v1/gates", {"connection_id": cid, "pipeline": "default", "stage": "qualifiedtobuy",
                               "requirements": [{"field": "industry"}]}, 201),
    ]
    for method, path, body, status in calls:
        response = client.open(path, method=method, json=body, headers=admin_headers)
        assert response.status_code == status, (method, path, response.get_json())
    gate_id = response.get_json()["id"]
    assert client.patch(f"/v1/gates/{gate_id}", json={"mode": "warn"}, headers=admin_headers).status_code == 200
    assert client.delete(f"/v1/gates/{gate_id}", headers=admin_headers).status_code == 204
    assert client.delete(f"/v1/fields/{field['id']}", headers=admin_headers).status_code == 204
    assert client.delete(f"/v1/connections/{cid}", headers=admin_headers).status_code == 204


def test_given_no_key_when_probing_health_then_200(client: Any) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_given_no_api_key_when_a_signed_webhook_arrives_then_it_is_accepted(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    body = json.dumps([{"eventId": 1, "subscriptionId": 7, "portalId": 62515, "occurredAt": int(time.time() * 1000),
                        "subscriptionType": "deal.propertyChange", "objectId": 1001}]).encode()
    url = f"http://localhost/v1/webhooks/{connection['id']}"
    ts = str(int(time.time() * 1000))
    headers = {"X-HubSpot-Signature-v3": sign_v3(SANDBOX_SECRET, "POST", url, body, ts),
               "X-HubSpot-Request-Timestamp": ts, "Content-Type": "application/json"}

    response = client.post(f"/v1/webhooks/{connection['id']}", data=body, headers=headers)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stored"] == 1
