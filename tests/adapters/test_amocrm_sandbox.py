"""The amoCRM sandbox answers in amoCRM's shapes: HAL envelopes, 204s, problem+json errors, controls."""

from __future__ import annotations

import httpx

from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import INDUSTRY, QUALIFIED, USER_BORIS
from tests.adapters.amocrm_fixtures import amocrm_fixture  # noqa: F401


def api(sb: AmoCRMSandbox, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {token or sb.access_token}"})


def test_given_leads_when_listed_then_hal_envelope_with_next_link(amocrm: AmoCRMSandbox) -> None:
    with api(amocrm) as client:
        answer = client.get("/api/v4/leads", params={"limit": 2, "order[updated_at]": "asc"})
        payload = answer.json()
        assert answer.headers["content-type"].startswith("application/hal+json")
        assert payload["_page"] == 1 and len(payload["_embedded"]["leads"]) == 2
        assert "page=2" in payload["_links"]["next"]["href"]
        last = client.get("/api/v4/leads", params={"limit": 2, "page": 2}).json()
        assert "next" not in last["_links"] and "prev" in last["_links"]
        assert client.get("/api/v4/leads", params={"page": 3, "limit": 2}).status_code == 204


def test_given_lead_when_read_then_v4_shape(amocrm: AmoCRMSandbox) -> None:
    lead_id = amocrm.ui_create_lead({"name": "Acme", str(INDUSTRY): 910002})
    with api(amocrm) as client:
        lead = client.get(f"/api/v4/leads/{lead_id}", params={"with": "contacts"}).json()
        assert client.get("/api/v4/leads/1").status_code == 204
    assert {"id", "status_id", "pipeline_id", "updated_at", "_links", "_embedded"} <= set(lead)
    assert lead["custom_fields_values"] == [{"field_id": INDUSTRY, "field_name": "Industry", "field_code": "INDUSTRY",
                                             "field_type": "select",
                                             "values": [{"value": "Retail", "enum_id": 910002, "enum_code": None}]}]


def test_given_errors_when_called_then_problem_json(amocrm: AmoCRMSandbox) -> None:
    with api(amocrm, token="nope") as client:
        answer = client.get("/api/v4/leads")
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401,
                             "detail": "Unauthorized"}
    with api(amocrm) as client:
        bad = client.patch("/api/v4/leads/30000001", json={"status_id": 5})
        assert client.get("/api/v4/nothing").status_code == 404
    assert bad.status_code == 400 and bad.json()["validation-errors"][0]["errors"][0]["path"] == "status_id"


def test_given_more_than_seven_per_second_when_called_then_429(amocrm: AmoCRMSandbox) -> None:
    with api(amocrm) as client:
        statuses = [client.get("/api/v4/users").status_code for _ in range(9)]
    assert statuses[:7] == [200] * 7 and 429 in statuses[7:]


def test_given_refresh_token_when_exchanged_then_rotated(amocrm: AmoCRMSandbox) -> None:
    old_access, old_refresh = amocrm.access_token, amocrm.refresh_token
    body = {"client_id": amocrm.client_id, "client_secret": amocrm.client_secret, "grant_type": "refresh_token",
            "refresh_token": old_refresh, "redirect_uri": "https://x"}
    with httpx.Client(base_url=amocrm.base_url) as client:
        fresh = client.post("/oauth2/access_token", json=body).json()
        reused = client.post("/oauth2/access_token", json=body)
        assert client.get("/api/v4/users", headers={"Authorization": f"Bearer {old_access}"}).status_code == 401
    assert fresh["token_type"] == "Bearer" and fresh["expires_in"] > 0
    assert fresh["refresh_token"] != old_refresh and reused.status_code == 400
    assert reused.json()["hint"] == "Token has been revoked"


def test_given_control_endpoints_when_used_then_ui_moves_and_inspection_work(amocrm: AmoCRMSandbox) -> None:
    with httpx.Client(base_url=amocrm.base_url) as client:
        created = client.post("/_sandbox/ui/leads", json={"fields": {"name": "Ctl"}}).json()
        moved = client.post(f"/_sandbox/ui/leads/{created['id']}/move", json={"status_id": QUALIFIED}).json()
        assert moved["status_id"] == QUALIFIED
        assert client.post("/_sandbox/failures", json={"mode": "503"}).status_code == 201
        auth = {"Authorization": f"Bearer {amocrm.access_token}"}
        assert client.get("/api/v4/users", headers=auth).status_code == 503
        assert client.post("/_sandbox/config", json={"nope": 1}).status_code == 400
        assert client.post("/_sandbox/config", json={"events": ["status", "update"]}).json()["events"] == [
            "status", "update"]
        calls = client.get("/_sandbox/calls", params={"path_prefix": "/api/v4/users"}).json()["results"]
        assert [c["status"] for c in calls] == [503]
        assert client.post("/_sandbox/reset").status_code == 200
        assert client.get(f"/_sandbox/leads/{created['id']}").status_code == 404
        assert client.post("/_sandbox/webhooks/wait", json={"timeout": 1}).json() == {"idle": True}


def test_given_tasks_with_and_without_lead_when_filtered_by_responsible_user_then_only_theirs(
    amocrm: AmoCRMSandbox,
) -> None:
    with api(amocrm) as client:
        created = client.post("/api/v4/tasks", json=[
            {"text": "Review personas", "complete_till": 1893456000, "responsible_user_id": USER_BORIS},
            {"text": "Call back", "complete_till": 1893456000, "entity_id": 30000001, "entity_type": "leads"},
        ]).json()  # fmt: skip
        listed = client.get("/api/v4/tasks", params={"filter[responsible_user_id]": USER_BORIS}).json()
    standalone_id = created["_embedded"]["tasks"][0]["id"]
    [task] = listed["_embedded"]["tasks"]
    assert (task["id"], task["entity_id"], task["entity_type"], task["text"]) == (
        standalone_id, None, None, "Review personas")
