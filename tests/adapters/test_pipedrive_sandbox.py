"""The Pipedrive sandbox answers in Pipedrive's shapes: envelopes, errors, headers, webhooks v2, controls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.pipedrive_webhooks import basic_auth_header
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_seed import KEYS
from tests.adapters.pipedrive_fixtures import (  # noqa: F401
    HOOK_PASSWORD,
    HOOK_USER,
    TOKEN,
    new_deal,
    pipedrive_fixture,
    receiver_fixture,
)
from tests.adapters.sandbox_fixtures import WebhookReceiver


@pytest.fixture
def http(pipedrive: PipedriveSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pipedrive.base_url, headers={"x-api-token": TOKEN}, trust_env=False) as client:
        yield client


def bodies(receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.wait_for(count)]


def test_list_deals_has_v2_envelope_cursor_and_rate_limit_headers(
    pipedrive: PipedriveSandbox, http: httpx.Client
) -> None:
    for i in range(3):
        new_deal(pipedrive, f"d{i}")
    first = http.get("/api/v2/deals", params={"limit": 2})
    payload = first.json()
    assert payload["success"] is True and len(payload["data"]) == 2
    cursor = payload["additional_data"]["next_cursor"]
    assert isinstance(cursor, str)
    last = http.get("/api/v2/deals", params={"limit": 2, "cursor": cursor}).json()
    assert len(last["data"]) == 1 and last["additional_data"]["next_cursor"] is None
    assert first.headers["x-ratelimit-limit"] == "80" and int(first.headers["x-ratelimit-remaining"]) < 80
    assert first.headers["x-ratelimit-reset"] and int(first.headers["x-daily-requests-left"]) > 0
    deal = payload["data"][0]
    assert isinstance(deal["id"], int) and deal["custom_fields"][KEYS["industry"]] == 31
    assert deal["update_time"].endswith("Z") and "_update_ms" not in deal


def test_missing_token_gets_pipedrive_401_body(pipedrive: PipedriveSandbox) -> None:
    response = httpx.get(f"{pipedrive.base_url}/api/v2/deals", trust_env=False)
    assert response.status_code == 401
    body = response.json()
    assert (body["success"], body["error"], body["errorCode"]) == (False, "unauthorized access", 401)
    assert "developers.pipedrive.com" in body["error_info"]


def test_api_token_query_parameter_is_accepted_and_not_logged(pipedrive: PipedriveSandbox) -> None:
    response = httpx.get(f"{pipedrive.base_url}/api/v1/users", params={"api_token": TOKEN}, trust_env=False)
    assert response.status_code == 200 and len(response.json()["data"]) == 5
    assert "api_token" not in pipedrive.api_calls()[0]["query"]


def test_v2_rejects_numbers_sent_as_strings_and_unknown_fields(pipedrive: PipedriveSandbox, http: httpx.Client) -> None:
    deal_id = new_deal(pipedrive)
    assert http.patch(f"/api/v2/deals/{deal_id}", json={"value": "100"}).status_code == 400
    assert http.patch(f"/api/v2/deals/{deal_id}", json={"nope": 1}).status_code == 400
    bad_option = {"custom_fields": {KEYS["industry"]: 99}}
    assert http.patch(f"/api/v2/deals/{deal_id}", json=bad_option).json()["success"] is False
    assert pipedrive.deal(deal_id)["value"] == 1000


def test_deal_fields_include_required_fields_only_when_asked(http: httpx.Client) -> None:
    plain = http.get("/api/v2/dealFields").json()["data"]
    asked = http.get("/api/v2/dealFields", params={"include_fields": "required_fields"}).json()["data"]
    assert "required_fields" not in plain[0] and "required_fields" in asked[0]
    custom = [f for f in asked if f["is_custom_field"]]
    assert all(len(f["field_code"]) == 40 for f in custom) and len(custom) == 9  # portrait fields and three for the fit


def test_ui_move_sends_v2_webhook_with_basic_auth_and_previous_stage(
    pipedrive: PipedriveSandbox, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.ui_move_deal(deal_id, 6, user_id=2)
    created, moved = bodies(receiver, 2)
    assert created["meta"]["action"] == "create" and created["previous"] is None
    assert moved["meta"]["action"] == "change" and moved["meta"]["change_source"] == "app"
    assert moved["meta"]["user_id"] == "2" and moved["meta"]["attempt"] == 1
    assert moved["previous"] == {"stage_id": 1, "pipeline_id": 1}
    assert (moved["data"]["stage_id"], moved["data"]["pipeline_id"]) == (6, 2)
    assert receiver.requests[1].headers["Authorization"] == basic_auth_header(HOOK_USER, HOOK_PASSWORD)
    assert receiver.requests[1].headers["User-Agent"] == "Pipedrive-Webhook"


def test_delete_sends_null_data_and_previous_object(pipedrive: PipedriveSandbox, receiver: WebhookReceiver) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.ui_delete_deal(deal_id)
    _, deleted = bodies(receiver, 2)
    assert deleted["meta"]["action"] == "delete" and deleted["data"] is None
    assert deleted["previous"]["id"] == deal_id


def test_failed_delivery_is_retried_with_attempt_incremented(
    pipedrive: PipedriveSandbox, receiver: WebhookReceiver
) -> None:
    receiver.answer_with(500, 503)
    new_deal(pipedrive)
    pipedrive.wait_webhooks_idle()
    attempts = [(b["meta"]["id"], b["meta"]["attempt"]) for b in bodies(receiver, 3)]
    assert [a for _, a in attempts] == [1, 2, 3] and len({i for i, _ in attempts}) == 1
    assert [d["status"] for d in pipedrive.webhook_deliveries()] == [500, 503, 204]


def test_control_endpoints_drive_the_sandbox(pipedrive: PipedriveSandbox, receiver: WebhookReceiver) -> None:
    base = f"{pipedrive.base_url}/_sandbox"
    with httpx.Client(trust_env=False) as c:
        assert c.post(f"{base}/config", json={"duplicate_deliveries": 2}).json()["duplicate_deliveries"] == 2
        assert c.post(f"{base}/config", json={"typo": 1}).status_code == 400
        deal = c.post(f"{base}/ui/deals", json={"fields": {"title": "Ctl", KEYS["pain_points"]: "x"}}).json()
        assert deal["custom_fields"][KEYS["pain_points"]] == "x"
        moved = c.post(f"{base}/ui/deals/{deal['id']}/move", json={"stage_id": 2}).json()
        assert moved["stage_id"] == 2
        assert c.get(f"{base}/deals/{deal['id']}").json()["activities"] == []
        assert c.post(f"{base}/webhooks/wait", json={"timeout": 5}).status_code == 200
        assert len(c.get(f"{base}/webhooks").json()["results"]) == 4  # 2 events x 2 duplicates
        assert c.post(f"{base}/failures", json={"mode": "429-daily"}).status_code == 201
        assert c.post(f"{base}/failures", json={"mode": "bogus"}).status_code == 400
        api = c.get(f"{pipedrive.base_url}/api/v2/stages", headers={"x-api-token": TOKEN})
        assert api.status_code == 429 and api.headers["x-daily-requests-left"] == "0"
        assert c.get(f"{base}/calls", params={"path_prefix": "/api/v2/stages"}).json()["results"][0]["status"] == 429
        assert c.post(f"{base}/reset").status_code == 200
        assert c.get(f"{base}/deals/{deal['id']}").status_code == 404


def test_given_activities_with_and_without_deal_when_filtered_by_owner_then_only_theirs(
    pipedrive: PipedriveSandbox, http: httpx.Client
) -> None:
    deal_id = new_deal(pipedrive)
    standalone = http.post("/api/v2/activities", json={"subject": "Review personas", "owner_id": 2}).json()["data"]
    http.post("/api/v2/activities", json={"subject": "Call back", "deal_id": deal_id})  # owner: the token user (1)
    unknown = http.post("/api/v2/activities", json={"subject": "x", "owner_id": 99})

    listed = http.get("/api/v2/activities", params={"owner_id": 2}).json()["data"]

    assert [(a["id"], a["deal_id"], a["subject"]) for a in listed] == [(standalone["id"], None, "Review personas")]
    assert unknown.status_code == 400 and unknown.json()["error"] == "User 99 not found"
