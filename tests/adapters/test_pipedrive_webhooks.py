"""PipedriveWebhookVerifier: Basic auth, path token, and every v2 body format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier, basic_auth_header

URL = "https://qualify.example.com/webhooks/pipedrive/tok-123"
NOW = 1_767_600_000.0


def verifier(path_token: str | None = "tok-123") -> PipedriveWebhookVerifier:
    return PipedriveWebhookVerifier(username="hook", password="p@ss:word", path_token=path_token)


def verify(v: PipedriveWebhookVerifier, *, url: str = URL, auth: str | None = None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    v.verify(method="POST", url=url, headers=headers, body=b"{}", now=NOW)


def body(action: str | None = "change", *, data: Any = None, previous: Any = None, **meta: Any) -> bytes:
    base_meta = {"action": action, "entity": "deal", "entity_id": "42", "id": "7b3c6a1e-0d7e-4a4f-9d0b-1a2b3c4d5e6f",
                 "company_id": "7712345", "user_id": "2", "change_source": "app", "attempt": 1, "version": "2.0",
                 "timestamp": "2026-01-05T09:30:00.123Z"}  # fmt: skip
    payload = {"meta": {**base_meta, **meta}, "data": data, "previous": previous}
    return json.dumps(payload).encode()


def test_given_right_basic_auth_and_path_token_when_verify_then_accepted() -> None:
    verify(verifier(), auth=basic_auth_header("hook", "p@ss:word"))


def test_given_token_as_query_parameter_when_verify_then_accepted() -> None:
    url = "https://qualify.example.com/webhooks/pipedrive?token=tok-123"
    verify(verifier(), url=url, auth=basic_auth_header("hook", "p@ss:word"))


def test_given_no_path_token_configured_when_verify_then_only_basic_auth_counts() -> None:
    verify(verifier(None), url="https://x.example/hooks", auth=basic_auth_header("hook", "p@ss:word"))


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "missing_auth"),
        ("Bearer abc", "missing_auth"),
        ("Basic ", "missing_auth"),
        (basic_auth_header("hook", "wrong"), "bad_auth"),
        (basic_auth_header("other", "p@ss:word"), "bad_auth"),
    ],
)
def test_given_bad_basic_auth_when_verify_then_auth_error(auth: str | None, reason: str) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify(verifier(), auth=auth)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://qualify.example.com/webhooks/pipedrive",
        "https://qualify.example.com/webhooks/pipedrive/tok-1234",
        "https://qualify.example.com/webhooks/pipedrive/x?token=wrong",
        "https://qualify.example.com/tok-123/webhooks",
    ],
)
def test_given_wrong_or_missing_path_token_when_verify_then_auth_error(url: str) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify(verifier(), url=url, auth=basic_auth_header("hook", "p@ss:word"))
    assert info.value.reason == "bad_token"


def test_given_empty_credentials_when_building_verifier_then_value_error() -> None:
    with pytest.raises(ValueError):
        PipedriveWebhookVerifier(username="", password="x")


def test_given_stage_change_when_parse_then_one_event_with_old_and_new_stage() -> None:
    raw = body(data={"id": 42, "stage_id": 3, "pipeline_id": 1, "custom_fields": {}}, previous={"stage_id": 2})

    [event] = verifier().parse(raw, {})

    assert (event.delivery_key, event.object_id, event.object_type) == (
        "7b3c6a1e-0d7e-4a4f-9d0b-1a2b3c4d5e6f", "42", "deal")
    assert (event.kind, event.new_stage, event.old_stage) == ("property_change", "3", "2")
    assert (event.new_pipeline, event.old_pipeline) == (None, None)
    assert (event.source, event.change_source, event.source_id) == ("ui", "app", "2")
    assert (event.attempt, event.account) == (1, "7712345")
    assert event.occurred_at == datetime(2026, 1, 5, 9, 30, 0, 123000, tzinfo=UTC)
    assert event.property_name == "stage_id" and event.property_value == "3"


def test_given_pipeline_move_by_api_when_parse_then_pipelines_and_source_api() -> None:
    raw = body(data={"id": 42, "stage_id": 6, "pipeline_id": 2}, previous={"stage_id": 3, "pipeline_id": 1},
               change_source="api", attempt=3, timestamp=1767605400)

    [event] = verifier().parse(raw, {})

    assert (event.new_stage, event.old_stage, event.new_pipeline, event.old_pipeline) == ("6", "3", "2", "1")
    assert (event.source, event.attempt) == ("api", 3)
    assert event.occurred_at == datetime.fromtimestamp(1767605400, tz=UTC)


def test_given_change_without_stage_when_parse_then_no_stage() -> None:
    raw = body(data={"id": 42, "stage_id": 3, "title": "New"}, previous={"title": "Old"})
    [event] = verifier().parse(raw, {})
    assert (event.kind, event.new_stage, event.old_stage, event.property_name) == (
        "property_change", None, None, None)


def test_given_create_when_parse_then_creation() -> None:
    [event] = verifier().parse(body("create", data={"id": 42, "stage_id": 1}), {})
    assert (event.kind, event.object_id, event.new_stage, event.old_stage) == ("creation", "42", None, None)


def test_given_delete_when_parse_then_deletion_and_merge_when_merged() -> None:
    [deleted] = verifier().parse(body("delete", previous={"id": 42, "stage_id": 1}), {})
    [merged] = verifier().parse(body("delete", previous={"id": 42}, merged_to_id="77"), {})
    assert (deleted.kind, deleted.object_id, merged.kind) == ("deletion", "42", "merge")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"data": {}}',
        body(id=""),
        body(action=None),
        body(entity_id=None),
        body(timestamp="yesterday"),
        body(attempt="two"),
        json.dumps({"meta": {"id": "x", "action": "change", "entity_id": "1", "timestamp": 1}, "data": []}).encode(),
    ],
)
def test_given_malformed_body_when_parse_then_format_error(raw: bytes) -> None:
    with pytest.raises(WebhookFormatError):
        verifier().parse(raw, {})


def verify_company(company_id: str | None, delivery: bytes) -> None:
    v = PipedriveWebhookVerifier(username="hook", password="p@ss:word", path_token="tok-123", company_id=company_id)
    v.verify(method="POST", url=URL, headers={"Authorization": basic_auth_header("hook", "p@ss:word")},
             body=delivery, now=NOW)


@pytest.mark.parametrize("delivery", [body(company_id="9999999"), body(company_id=None), body(company_id=7712346)])
def test_given_a_delivery_for_another_company_when_verify_then_wrong_account(delivery: bytes) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify_company("7712345", delivery)
    assert info.value.reason == "wrong_account"


def test_given_the_connections_company_or_none_stored_when_verify_then_accepted_and_parsed_with_it() -> None:
    verify_company("7712345", body())
    verify_company("7712345", body(company_id=7712345))  # captured payloads carry numbers too
    verify_company(None, body(company_id="9999999"))

    (event,) = verifier().parse(body(), {})
    assert event.account == "7712345"


def test_given_a_stored_company_and_a_body_without_meta_when_received_then_parse_refuses_it() -> None:
    verify_company("7712345", b"not json")
    with pytest.raises(WebhookFormatError):
        verifier().parse(b"not json", {})


@pytest.mark.parametrize(
    ("data", "previous", "expected"),
    [
        ({"stage_id": 3, "status": "won", "pipeline_id": 1}, {"status": "open"}, ("3", "won")),
        ({"stage_id": 3, "status": "open", "pipeline_id": 1}, {"status": "lost"}, ("lost", "3")),
        ({"stage_id": 4, "status": "won", "pipeline_id": 1}, {"stage_id": 2, "status": "open"}, ("2", "won")),
        ({"stage_id": 4, "status": "lost", "pipeline_id": 1}, {"status": "won"}, ("won", "lost")),
    ],
)
def test_given_a_status_change_when_parse_then_a_move_through_the_virtual_stages(
    data: dict[str, Any], previous: dict[str, Any], expected: tuple[str, str]
) -> None:
    [event] = verifier().parse(body(data={"id": 42, **data}, previous=previous), {})
    assert (event.old_stage, event.new_stage) == expected
    assert (event.property_name, event.property_value, event.kind) == ("stage_id", expected[1], "property_change")
    # "won" is a stage of every pipeline: a move out of one names the deal's pipeline
    assert event.old_pipeline == ("1" if expected[0] in ("won", "lost") else None)


@pytest.mark.parametrize(
    "previous", [{"stage_id": 2}, {"status": "won"}, {"value": 10}, None],
)
def test_given_no_change_as_qualify_sees_it_when_parse_then_no_move(previous: dict[str, Any] | None) -> None:
    data = {"id": 42, "stage_id": 3, "status": "won", "pipeline_id": 1}
    [event] = verifier().parse(body(data=data, previous=previous), {})
    assert (event.old_stage, event.new_stage, event.property_name) == (None, None, None)


def test_given_a_status_change_with_a_non_numeric_stage_when_parse_then_bad_event() -> None:
    with pytest.raises(WebhookFormatError) as info:
        verifier().parse(body(data={"id": 42, "stage_id": "won", "status": "open"}, previous={"status": "won"}), {})
    assert info.value.field == "data.stage_id"
