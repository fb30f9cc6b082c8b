"""Security findings 3 and 4: every number a verifier or parser reads is ASCII digits with bounds. Before
authentication a malformed one is a WebhookAuthError (401), never a 500; in an authentic body it is a
WebhookFormatError naming the field (400), never a 500 and never stored (superscripts, other scripts' digits,
5,000 digits, 1e20, times outside 2000..2100)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from adapters.amocrm_webhooks import AmoCRMWebhookVerifier
from adapters.base import WebhookEvent
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.hubspot_webhooks import HubSpotWebhookVerifier, sign_v3
from adapters.numbers import ascii_int, epoch_millis, epoch_seconds, numeric_id
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier

SECRET = "client-secret-0123456789"
URL = "https://qualify.example/v1/webhooks/1"
NOW = 1_767_605_400.0  # 2026-01-05T09:30:00Z
HUGE = "9" * 5000
# Values str.isdigit() accepts that are not ASCII numbers: superscripts, Arabic-Indic digits, fullwidth digits.
NOT_ASCII = ["²", "³", "١٢", "\uff11\uff12"]
NOW_MS_FULLWIDTH = "".join(chr(0xFF10 + int(digit)) for digit in str(int(NOW * 1000)))


@pytest.mark.parametrize("value", [*NOT_ASCII, HUGE, "1e20", "-1", "+1", " 1", "1 ", "", "0x10", "1.5", None, True,
                                   1.0, [1]])  # fmt: skip
def test_given_anything_but_ascii_digits_when_parsed_as_a_number_then_format_error_naming_the_field(
        value: Any) -> None:
    with pytest.raises(WebhookFormatError) as refused:
        ascii_int(value, "someField")

    assert (refused.value.reason, refused.value.field) == ("bad_event", "someField")
    assert "someField" in refused.value.detail and len(refused.value.detail) < 200


def test_given_ascii_digits_or_a_json_integer_then_the_number_and_bounds_hold() -> None:
    assert ascii_int("0042", "n") == 42 and ascii_int(7, "n") == 7 and numeric_id(10**19, "id") == str(10**19)
    assert epoch_seconds("946684800", "ts") == datetime(2000, 1, 1, tzinfo=UTC)
    assert epoch_millis(1462216307945, "ms").year == 2016
    for refused in (lambda: ascii_int(10**4000, "n"), lambda: ascii_int(11, "n", maximum=10),
                    lambda: epoch_seconds("946684799", "ts"), lambda: epoch_seconds(4102444800, "ts"),
                    lambda: epoch_millis(10**20, "ms"), lambda: numeric_id("1" * 21, "id")):  # fmt: skip
        with pytest.raises(WebhookFormatError):
            refused()


def test_given_a_value_longer_than_the_event_store_keeps_then_the_event_is_refused() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    WebhookEvent(delivery_key="k" * 200, object_id="1" * 64, kind="other", occurred_at=at)

    for too_long in ({"delivery_key": "k" * 201}, {"object_id": "1" * 65}, {"new_stage": "s" * 65}):
        with pytest.raises(WebhookFormatError) as refused:
            WebhookEvent(**{"delivery_key": "k", "object_id": "1", "kind": "other", "occurred_at": at, **too_long})
        assert refused.value.field == next(iter(too_long))


# ---- HubSpot -------------------------------------------------------------------------------------------------
def hubspot_event(**over: Any) -> dict[str, Any]:
    return {"eventId": 1, "subscriptionId": 25, "portalId": 33, "occurredAt": int(NOW * 1000) - 1000,
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 1246965,
            "propertyName": "dealstage", "propertyValue": "qualifiedtobuy", **over}  # fmt: skip


@pytest.mark.parametrize("timestamp", [HUGE, "\xb2", "²³", "١٧٦٧٦٠٥٤٠٠٠٠٠", NOW_MS_FULLWIDTH, "1767605400000.0",
                                       "-1767605400000", "1" * 16])  # fmt: skip
def test_given_a_malformed_hubspot_timestamp_header_when_verified_then_bad_timestamp_not_a_500(
        timestamp: str) -> None:
    body = json.dumps([hubspot_event()]).encode()
    headers = {"X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", URL, body, timestamp),
               "X-HubSpot-Request-Timestamp": timestamp}  # fmt: skip

    with pytest.raises(WebhookAuthError) as refused:
        HubSpotWebhookVerifier(SECRET).verify(method="POST", url=URL, headers=headers, body=body, now=NOW)

    assert (refused.value.reason, refused.value.field) == ("bad_timestamp", "X-HubSpot-Request-Timestamp")


@pytest.mark.parametrize(("field", "value"), [
    ("eventId", "²"), ("eventId", HUGE), ("eventId", int(HUGE[:4000])), ("eventId", -1),
    ("occurredAt", 10**20), ("occurredAt", "١٢"), ("occurredAt", 12), ("occurredAt", "1e20"), ("occurredAt", 1e20),
    ("occurredAt", 4102444800000),
    ("attemptNumber", "³"), ("attemptNumber", 10**6),
    ("objectId", "²"), ("objectId", "abc"), ("objectId", "../1"),
    ("portalId", "²"), ("subscriptionId", "²"),
])  # fmt: skip
def test_given_a_malformed_number_in_an_authentic_hubspot_event_when_parsed_then_format_error_naming_it(
        field: str, value: Any) -> None:
    body = json.dumps([hubspot_event(), hubspot_event(**{field: value})]).encode()

    with pytest.raises(WebhookFormatError) as refused:
        HubSpotWebhookVerifier(SECRET).parse(body, {})

    assert (refused.value.reason, refused.value.field) == ("bad_event", field)
    assert refused.value.detail.startswith("event 1: ")


# ---- Pipedrive -----------------------------------------------------------------------------------------------
def pipedrive_body(meta: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
                   previous: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    base = {"action": "change", "entity": "deal", "entity_id": "42", "id": "7b3c6a1e", "company_id": "7712345",
            "user_id": "2", "change_source": "app", "attempt": 1, "timestamp": "2026-01-05T09:30:00.123Z"}
    return json.dumps({"meta": {**base, **(meta or {})}, "data": {"id": 42, "stage_id": 3, **(data or {})},
                       "previous": {"stage_id": 2, **(previous or {})}}).encode()  # fmt: skip


@pytest.mark.parametrize(("section", "key", "value"), [
    ("meta", "attempt", "²"), ("meta", "attempt", HUGE), ("meta", "attempt", -1),
    ("meta", "entity_id", "²"), ("meta", "entity_id", "abc"), ("meta", "company_id", "²"), ("meta", "user_id", "١٢"),
    ("meta", "timestamp", "١٧٦٧٦٠٥٤٠٠"), ("meta", "timestamp", 10**20), ("meta", "timestamp", 1e20),
    ("meta", "timestamp", "1970-01-01T00:00:12Z"), ("meta", "timestamp", 12), ("meta", "timestamp", HUGE),
    ("data", "stage_id", "²"), ("previous", "stage_id", "x"), ("data", "pipeline_id", "²"),
])  # fmt: skip
def test_given_a_malformed_number_in_an_authentic_pipedrive_event_when_parsed_then_format_error_naming_it(
        section: str, key: str, value: Any) -> None:
    sections: dict[str, dict[str, Any]] = {"meta": {}, "data": {}, "previous": {"pipeline_id": 1}}
    sections[section][key] = value
    body = pipedrive_body(sections["meta"], sections["data"], sections["previous"])

    with pytest.raises(WebhookFormatError) as refused:
        PipedriveWebhookVerifier(username="u", password="p").parse(body, {})

    assert (refused.value.reason, refused.value.field) == ("bad_event", f"{section}.{key}")


def test_given_pipedrive_numbers_as_json_integers_or_digit_strings_then_parsed_alike() -> None:
    [text] = PipedriveWebhookVerifier(username="u", password="p").parse(pipedrive_body(), {})
    [numbers] = PipedriveWebhookVerifier(username="u", password="p").parse(
        pipedrive_body({"entity_id": 42, "company_id": 7712345, "user_id": 2, "timestamp": 1767605400000}), {})

    assert (text.object_id, text.account, text.source_id, text.new_stage) == ("42", "7712345", "2", "3")
    assert (numbers.object_id, numbers.account, numbers.source_id) == ("42", "7712345", "2")
    assert numbers.occurred_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


# ---- amoCRM --------------------------------------------------------------------------------------------------
def amocrm_body(**fields: str) -> bytes:
    lead = {"id": "10701093", "status_id": "142", "old_status_id": "20067736", "pipeline_id": "9217056",
            "modified_user_id": "0", "last_modified": "1539782664", **fields}  # fmt: skip
    pairs = [(f"leads[status][0][{k}]", v) for k, v in lead.items()] + [("account[id]", "17769199"),
                                                                        ("account[subdomain]", "acme")]
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs).encode()


@pytest.mark.parametrize(("key", "value"), [
    ("last_modified", "²"), ("last_modified", "1e20"), ("last_modified", "١٢"), ("last_modified", HUGE),
    ("last_modified", "12"), ("id", "²"), ("id", "١٢"), ("id", "abc"), ("status_id", "²"),
    ("old_status_id", "³"), ("pipeline_id", "x"), ("modified_user_id", "²"),
])  # fmt: skip
def test_given_a_malformed_number_in_an_authentic_amocrm_lead_when_parsed_then_format_error_naming_it(
        key: str, value: str) -> None:
    with pytest.raises(WebhookFormatError) as refused:
        AmoCRMWebhookVerifier(url_secret="s" * 16).parse(amocrm_body(**{key: value}), {})

    assert (refused.value.reason, refused.value.field) == ("bad_event", key)
    assert refused.value.detail.startswith("deal status[0]: ")


def test_given_a_superscript_in_the_form_encoding_then_refused_and_the_documented_lead_parses() -> None:
    encoded = amocrm_body().replace(b"=1539782664", b"=%C2%B2")  # "²", as a form encodes it
    verifier = AmoCRMWebhookVerifier(url_secret="s" * 16)

    with pytest.raises(WebhookFormatError, match="last_modified"):
        verifier.parse(encoded, {})
    [event] = verifier.parse(amocrm_body(), {})
    assert (event.object_id, event.source_id, event.new_stage) == ("10701093", "0", "142")
