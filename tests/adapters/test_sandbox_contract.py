"""The HubSpot sandbox answers in HubSpot's real shapes and sends webhooks as HubSpot does.

HubSpot's own SDK (generated from its OpenAPI specs) is the oracle for response shapes: it
deserializes every answer into its models and rejects missing required fields. Everything runs
over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskInput
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.crm.properties import PropertyCreate
from hubspot.utils.signature import Signature

from adapters.sandbox.hubspot import HubSpotSandbox
from tests.adapters.sandbox_fixtures import (  # noqa: F401  (fixtures are requested by name)
    SECRET,
    TOKEN,
    WebhookReceiver,
    hubspot_fixture,
    make_sandbox,
    receiver_fixture,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sdk(sandbox: HubSpotSandbox) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=sandbox.base_url)


def events_of(requests: list[Any]) -> list[dict[str, Any]]:
    return [event for r in requests for event in json.loads(r.body)]


# ---- HubSpot SDK as oracle ---------------------------------------------------------------------
def test_sdk_lists_pipelines_and_stages_with_string_metadata(hubspot: HubSpotSandbox) -> None:
    client = sdk(hubspot)
    pipelines = client.crm.pipelines.pipelines_api.get_all(object_type="deals").results
    assert [p.id for p in pipelines] == ["default", "12345678"]
    stages_api = client.crm.pipelines.pipeline_stages_api
    stages = stages_api.get_all(object_type="deals", pipeline_id="default").results
    assert [s.id for s in stages][:2] == ["appointmentscheduled", "qualifiedtobuy"]
    assert [s.display_order for s in stages] == list(range(7))
    won = next(s for s in stages if s.id == "closedwon")
    assert won.metadata == {"isClosed": "true", "probability": "1.0"}
    assert stages[0].metadata == {"isClosed": "false", "probability": "0.2"}


def test_sdk_lists_deal_properties_with_portrait_options(hubspot: HubSpotSandbox) -> None:
    props = {p.name: p for p in sdk(hubspot).crm.properties.core_api.get_all(object_type="deals").results}
    assert {"dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id"} <= set(props)
    industries = [o.value for o in props["industry"].options]
    assert industries == ["retail", "manufacturing", "it", "finance", "other"]
    assert (props["channels"].type, props["channels"].field_type) == ("enumeration", "checkbox")
    assert props["decision_maker"].field_type == "booleancheckbox"
    assert props["company_size"].type == "number"
    assert props["hs_object_id"].modification_metadata.read_only_value is True


def test_sdk_creates_a_custom_property_and_then_accepts_values_for_it(hubspot: HubSpotSandbox) -> None:
    client = sdk(hubspot)
    created = client.crm.properties.core_api.create(object_type="deals", property_create=PropertyCreate(
        name="lead_source_detail", label="Lead source detail", type="string", field_type="text",
        group_name="dealinformation"))
    assert created.name == "lead_source_detail"
    deal_id = hubspot.ui_create_deal({"dealname": "Custom", "lead_source_detail": "fair"})
    assert hubspot.deal(deal_id)["properties"]["lead_source_detail"] == "fair"


def test_sdk_reads_deal_with_stage_history_newest_first(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme", "industry": "retail"})
    hubspot.ui_move_deal(deal_id, "qualifiedtobuy", user_id=45679)
    deal = sdk(hubspot).crm.deals.basic_api.get_by_id(
        deal_id, properties=["dealname", "industry", "budget"], properties_with_history=["dealstage"])
    assert deal.id == deal_id and deal.archived is False
    assert deal.properties["industry"] == "retail" and deal.properties["budget"] is None
    assert {"hs_object_id", "createdate", "hs_lastmodifieddate"} <= set(deal.properties)
    history = deal.properties_with_history["dealstage"]
    assert [h.value for h in history] == ["qualifiedtobuy", "appointmentscheduled"]
    assert (history[0].source_type, history[0].source_id) == ("CRM_UI", "userId:45679")


def test_sdk_search_by_last_modified_pages_in_ascending_order(hubspot: HubSpotSandbox) -> None:
    before = int(time.time() * 1000) - 1
    ids = [hubspot.ui_create_deal({"dealname": f"Deal {i}"}) for i in range(3)]
    client = sdk(hubspot)
    request = {"filter_groups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(before)}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["dealname", "dealstage"], "limit": 2}
    first = client.crm.deals.search_api.do_search(PublicObjectSearchRequest(**request))
    assert first.total == 3 and [r.id for r in first.results] == ids[:2]
    second = client.crm.deals.search_api.do_search(
        PublicObjectSearchRequest(**request, after=first.paging.next.after))
    assert [r.id for r in second.results] == ids[2:] and second.paging is None
    assert second.results[0].properties["dealstage"] == "appointmentscheduled"


def test_sdk_update_moves_stage_and_history_shows_the_integration(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    updated = sdk(hubspot).crm.deals.basic_api.update(
        deal_id, simple_public_object_input=SimplePublicObjectInput(properties={"dealstage": "contractsent"}))
    assert updated.properties["dealstage"] == "contractsent"
    history = sdk(hubspot).crm.deals.basic_api.get_by_id(deal_id, properties_with_history=["dealstage"])
    latest = history.properties_with_history["dealstage"][0]
    assert (latest.value, latest.source_type, latest.source_id) == ("contractsent", "INTEGRATION", "1160452")


def test_sdk_rejects_a_stage_from_another_pipeline_with_validation_error(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    with pytest.raises(ApiException) as caught:
        sdk(hubspot).crm.deals.basic_api.update(
            deal_id, simple_public_object_input=SimplePublicObjectInput(properties={"dealstage": "12345680"}))
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "INVALID_OPTION" in body["message"]


def test_sdk_creates_task_associated_to_deal_and_reads_it_back(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    tasks = sdk(hubspot).crm.objects.tasks
    created = tasks.basic_api.create(TaskInput(
        properties={"hs_timestamp": "2030-01-01T09:00:00Z", "hs_task_subject": "Fill the portrait",
                    "hs_task_body": "budget missing", "hubspot_owner_id": "101",
                    "hs_task_status": "NOT_STARTED", "hs_task_priority": "HIGH", "hs_task_type": "TODO"},
        associations=[{"to": {"id": deal_id},
                       "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}]}]))
    read = tasks.basic_api.get_by_id(created.id, properties=["hs_task_subject"], associations=["deals"])
    assert read.properties["hs_task_subject"] == "Fill the portrait"
    assert [(a.id, a.type) for a in read.associations["deals"].results] == [(deal_id, "task_to_deal")]
    batch = tasks.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": created.id}], properties=["hs_task_priority"], properties_with_history=[]))
    assert batch.results[0].properties["hs_task_priority"] == "HIGH"
    deal = sdk(hubspot).crm.deals.basic_api.get_by_id(deal_id, associations=["tasks", "notes"])
    assert [a.id for a in deal.associations["tasks"].results] == [created.id]
    assert hubspot.tasks_for_deal(deal_id)[0]["properties"]["hs_task_body"] == "budget missing"


def test_sdk_lists_owners(hubspot: HubSpotSandbox) -> None:
    owners = sdk(hubspot).crm.owners.owners_api.get_page(limit=10).results
    assert [(o.id, o.user_id) for o in owners] == [("101", 45678), ("102", 45679), ("103", 45680), ("104", 45681)]
    assert all(o.email and o.archived is False and o.user_id_including_inactive == o.user_id for o in owners)


def test_sdk_lists_archived_owners_apart_with_the_user_id_only_including_inactive(hubspot: HubSpotSandbox) -> None:
    owners_api = sdk(hubspot).crm.owners.owners_api
    archived = owners_api.get_page(limit=10, archived=True).results
    assert [(o.id, o.user_id, o.user_id_including_inactive, o.archived) for o in archived] == [
        ("105", None, 45682, True)]
    assert owners_api.get_by_id("45680", id_property="userId").id == "103"
    hubspot.set_user_active(45680, False)
    assert [o.id for o in owners_api.get_page(limit=10, archived=True).results] == ["103", "105"]
    with pytest.raises(OwnersApiException) as caught:
        owners_api.get_by_id("103")
    assert caught.value.status == 404


def test_sdk_reads_the_deal_dates_currency_and_modifier_hubspot_computes(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme", "amount": "1200.50"}, user_id=45679)
    hubspot.ui_move_deal(deal_id, "closedwon", user_id=45680)
    names = ["amount", "deal_currency_code", "createdate", "closedate", "hs_is_closed", "hs_created_by_user_id",
             "hs_updated_by_user_id"]  # fmt: skip
    props = sdk(hubspot).crm.deals.basic_api.get_by_id(deal_id, properties=names).properties
    assert (props["amount"], props["deal_currency_code"], props["hs_is_closed"]) == ("1200.50", "USD", "true")
    assert (props["hs_created_by_user_id"], props["hs_updated_by_user_id"]) == ("45679", "45680")
    assert props["createdate"] <= props["closedate"]
    definitions = {p.name: p for p in sdk(hubspot).crm.properties.core_api.get_all(object_type="deals").results}
    assert definitions["hs_is_closed"].modification_metadata.read_only_value is True
    assert [o.value for o in definitions["deal_currency_code"].options] == ["USD", "EUR", "GBP"]


# ---- errors, limits and failure injection over plain HTTP ------------------------------------------
def test_missing_or_wrong_token_gets_401_with_hubspot_body(hubspot: HubSpotSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals", headers=headers)
        body = response.json()
        assert response.status_code == 401
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found") and body["correlationId"]
    assert hubspot.api_calls() == []


def test_unknown_deal_gets_404_object_not_found(hubspot: HubSpotSandbox) -> None:
    response = httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals/424242", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["message"] == "Object not found.  objectId are usually numeric."
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_burst_limit_answers_429_with_retry_after_and_documented_body() -> None:
    sandbox = make_sandbox(rate_limit=(3, 10.0))
    base = sandbox.start()
    try:
        answers = [httpx.get(f"{base}/crm/v3/pipelines/deals", headers=AUTH) for _ in range(4)]
    finally:
        sandbox.stop()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in answers[0].headers
    body = answers[3].json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert {"status", "correlationId", "groupName"} <= set(body)
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 10


def test_search_has_its_own_bucket_and_no_rate_limit_headers() -> None:
    sandbox = make_sandbox(search_rate_limit=(2, 1.0), rate_limit=(100, 10.0))
    base = sandbox.start()
    try:
        url = f"{base}/crm/v3/objects/deals/search"
        answers = [httpx.post(url, headers=AUTH, json={"limit": 10}) for _ in range(3)]
        plain = httpx.get(f"{base}/crm/v3/objects/deals", headers=AUTH)
    finally:
        sandbox.stop()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in answers[0].headers)
    assert answers[2].json()["policyName"] == "SECONDLY"
    assert plain.status_code == 200 and plain.headers["X-HubSpot-RateLimit-Remaining"] == "99"


def test_search_rejects_limit_over_200_and_paging_past_10000(hubspot: HubSpotSandbox) -> None:
    url = f"{hubspot.base_url}/crm/v3/objects/deals/search"
    too_big = httpx.post(url, headers=AUTH, json={"limit": 201})
    too_far = httpx.post(url, headers=AUTH, json={"limit": 100, "after": "10000"})
    assert too_big.status_code == 400 and too_far.status_code == 400
    assert too_far.json()["category"] == "VALIDATION_ERROR"


def test_unknown_property_in_patch_is_property_doesnt_exist(hubspot: HubSpotSandbox) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    response = httpx.patch(f"{hubspot.base_url}/crm/v3/objects/deals/{deal_id}", headers=AUTH,
                           json={"properties": {"no_such_field": "x"}})
    assert response.status_code == 400 and "PROPERTY_DOESNT_EXIST" in response.json()["message"]


def test_task_without_hs_timestamp_is_rejected(hubspot: HubSpotSandbox) -> None:
    response = httpx.post(f"{hubspot.base_url}/crm/v3/objects/tasks", headers=AUTH,
                          json={"properties": {"hs_task_subject": "x"}})
    assert response.status_code == 400 and "hs_timestamp" in response.json()["message"]


def test_injected_failures_fire_count_times_then_requests_succeed(hubspot: HubSpotSandbox) -> None:
    hubspot.fail_next("500", count=1)
    hubspot.fail_next("429", count=1, method="GET", retry_after=2)
    url = f"{hubspot.base_url}/crm/v3/pipelines/deals"
    statuses = [httpx.get(url, headers=AUTH) for _ in range(3)]
    assert [s.status_code for s in statuses] == [500, 429, 200]
    assert statuses[1].headers["Retry-After"] == "2"
    assert [c["status"] for c in hubspot.api_calls("GET", "/crm/v3/pipelines")] == [500, 429, 200]


def test_injected_timeout_holds_the_answer_longer_than_the_client_waits(hubspot: HubSpotSandbox) -> None:
    hubspot.fail_next("timeout", delay=1.0, path_prefix="/crm/v3/objects/deals")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals", headers=AUTH, timeout=0.2)
    assert httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals", headers=AUTH).status_code == 200


def test_latency_holds_each_api_answer_but_not_control_requests(hubspot: HubSpotSandbox) -> None:
    hubspot.latency = 1.0
    started = time.monotonic()
    assert httpx.get(f"{hubspot.base_url}/crm/v3/pipelines/deals", headers=AUTH).status_code == 200
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    assert httpx.get(f"{hubspot.base_url}/_sandbox/calls").status_code == 200  # control: answered at once
    assert time.monotonic() - started < 1.0


# ---- webhooks ------------------------------------------------------------------------------------
def test_ui_move_sends_a_v3_signed_event_array(hubspot: HubSpotSandbox, receiver: WebhookReceiver) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    hubspot.wait_webhooks_idle()
    hubspot.ui_move_deal(deal_id, "qualifiedtobuy")
    hubspot.wait_webhooks_idle()
    request = receiver.requests[-1]
    headers = {k.lower(): v for k, v in request.headers.items()}
    timestamp = headers["x-hubspot-request-timestamp"]
    signed = f"POST{receiver.url}{request.body}{timestamp}".encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()
    assert request.url == receiver.url
    assert hmac.compare_digest(headers["x-hubspot-signature-v3"], expected)
    assert Signature.is_valid(signature=headers["x-hubspot-signature-v3"], client_secret=SECRET,
                              request_body=request.body, http_uri=request.url, signature_version="v3",
                              timestamp=timestamp)
    assert headers["x-hubspot-signature"] == hashlib.sha256(f"{SECRET}{request.body}".encode()).hexdigest()
    assert headers["x-hubspot-signature-version"] == "v1"
    assert headers["content-type"] == "application/json" and headers["user-agent"] == "HubSpot Webhooks"
    assert abs(int(timestamp) - time.time() * 1000) < 60_000
    [event] = json.loads(request.body)
    assert event == {**event, "subscriptionType": "deal.propertyChange", "objectId": int(deal_id),
                     "propertyName": "dealstage", "propertyValue": "qualifiedtobuy", "changeSource": "CRM_UI",
                     "sourceId": "userId:45678", "portalId": 62515, "appId": 1160452, "attemptNumber": 0}
    assert isinstance(event["eventId"], int) and isinstance(event["occurredAt"], int)
    assert isinstance(event["subscriptionId"], int)


def test_api_patch_event_is_attributed_to_the_integration(hubspot: HubSpotSandbox,
                                                          receiver: WebhookReceiver) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    response = httpx.patch(f"{hubspot.base_url}/crm/v3/objects/deals/{deal_id}", headers=AUTH,
                           json={"properties": {"dealstage": "closedlost", "loss_reason": "price"}})
    assert response.status_code == 200
    hubspot.wait_webhooks_idle()
    changes = [e for e in events_of(receiver.requests) if e["subscriptionType"] == "deal.propertyChange"]
    assert [(e["propertyName"], e["propertyValue"], e["changeSource"], e["sourceId"]) for e in changes] == [
        ("dealstage", "closedlost", "INTEGRATION", "1160452")]


def test_events_within_one_window_arrive_as_one_array(hubspot: HubSpotSandbox,
                                                      receiver: WebhookReceiver) -> None:
    deal_id = hubspot.ui_create_deal({"dealname": "Acme"})
    hubspot.wait_webhooks_idle()
    before = len(receiver.requests)
    for stage in ("qualifiedtobuy", "presentationscheduled", "contractsent"):
        hubspot.ui_move_deal(deal_id, stage)
    hubspot.ui_move_deal(deal_id, "12345679", pipeline_id="12345678")
    hubspot.wait_webhooks_idle()
    [batch] = receiver.requests[before:]
    events = json.loads(batch.body)
    assert [e["propertyValue"] for e in events] == [
        "qualifiedtobuy", "presentationscheduled", "contractsent", "12345679", "12345678"]
    assert len({e["eventId"] for e in events}) == 5
    assert {e["subscriptionId"] for e in events if e["propertyName"] == "dealstage"} != {
        e["subscriptionId"] for e in events if e["propertyName"] == "pipeline"}


def test_creation_and_deletion_events_and_batches_of_at_most_100(hubspot: HubSpotSandbox,
                                                                 receiver: WebhookReceiver) -> None:
    ids = [hubspot.ui_create_deal({"dealname": f"D{i}"}) for i in range(130)]
    hubspot.ui_delete_deal(ids[0])
    hubspot.wait_webhooks_idle()
    sizes = [len(json.loads(r.body)) for r in receiver.requests]
    assert max(sizes) <= 100 and sum(sizes) == 131
    events = events_of(receiver.requests)
    assert events[0]["subscriptionType"] == "deal.creation" and events[0]["changeFlag"] == "CREATED"
    assert events[-1]["subscriptionType"] == "deal.deletion" and events[-1]["objectId"] == int(ids[0])


def test_failed_delivery_is_retried_with_attempt_number_incremented(hubspot: HubSpotSandbox,
                                                                    receiver: WebhookReceiver) -> None:
    receiver.answer_with(500, 503)
    hubspot.ui_create_deal({"dealname": "Acme"})
    hubspot.wait_webhooks_idle()
    attempts = [json.loads(r.body)[0]["attemptNumber"] for r in receiver.requests]
    assert attempts == [0, 1, 2]
    assert [d["status"] for d in hubspot.webhook_deliveries()] == [500, 503, 204]


def test_control_api_drives_ui_and_duplicate_deliveries(hubspot: HubSpotSandbox,
                                                        receiver: WebhookReceiver) -> None:
    base = f"{hubspot.base_url}/_sandbox"
    assert httpx.post(f"{base}/config", json={"duplicate_deliveries": 2}).status_code == 200
    created = httpx.post(f"{base}/ui/deals", json={"properties": {"dealname": "Acme"}, "user_id": 45679})
    assert created.status_code == 201
    deal_id = created.json()["id"]
    assert httpx.post(f"{base}/webhooks/wait", json={"timeout": 5}).status_code == 200
    moved = httpx.post(f"{base}/ui/deals/{deal_id}/move", json={"stage": "decisionmakerboughtin"})
    assert moved.json()["properties"]["dealstage"] == "decisionmakerboughtin"
    assert httpx.post(f"{base}/webhooks/wait", json={"timeout": 5}).status_code == 200
    bodies = [r.body for r in receiver.requests]
    assert len(bodies) == 4 and bodies[0] == bodies[1] and bodies[2] == bodies[3]
    assert json.loads(bodies[0])[0]["sourceId"] == "userId:45679"
    deliveries = httpx.get(f"{base}/webhooks").json()["results"]
    assert [d["status"] for d in deliveries] == [204] * 4 and deliveries[0]["url"] == receiver.url
    httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals/{deal_id}", headers=AUTH)
    assert [c["path"] for c in httpx.get(f"{base}/calls").json()["results"]] == [
        f"/crm/v3/objects/deals/{deal_id}"]
    assert httpx.post(f"{base}/reset").status_code == 200
    assert httpx.get(f"{hubspot.base_url}/crm/v3/objects/deals/{deal_id}", headers=AUTH).status_code == 404
