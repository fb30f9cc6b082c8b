"""HubSpot webhook signatures (v3, optional v1/v2) and event parsing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.hubspot import HUBSPOT_API
from adapters.hubspot_webhooks import HubSpotWebhookVerifier, sign_legacy, sign_v3
from adapters.kind import ConnectionSettings
from adapters.registry import UnknownCRM, kind_of

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://qualify.example.com/webhooks/hubspot/conn-1?x=1"
NOW = 1_700_000_000.0
NOW_MS = int(NOW * 1000)


def event(event_id: int = 1, **over: Any) -> dict[str, Any]:
    base = {
        "eventId": event_id, "subscriptionId": 25, "portalId": 33, "appId": 1160452,
        "occurredAt": 1462216307945 + event_id, "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0, "objectId": 1246965, "propertyName": "dealstage",
        "propertyValue": "qualifiedtobuy", "changeSource": "CRM_UI", "sourceId": "userId:45678",
    }  # fmt: skip
    base.update(over)
    return base


def body_of(*events: Any) -> bytes:
    return json.dumps(list(events)).encode()


def v3_headers(body: bytes, *, url: str = URL, ts: int = NOW_MS, method: str = "POST") -> dict[str, str]:
    return {
        "X-HubSpot-Signature-v3": sign_v3(SECRET, method, url, body, ts),
        "X-HubSpot-Request-Timestamp": str(ts),
    }


def verify(verifier: HubSpotWebhookVerifier, body: bytes, headers: dict[str, str], url: str = URL) -> None:
    verifier.verify(method="POST", url=url, headers=headers, body=body, now=NOW)


def reason_of(verifier: HubSpotWebhookVerifier, body: bytes, headers: dict[str, str], url: str = URL) -> str:
    with pytest.raises(WebhookAuthError) as info:
        verify(verifier, body, headers, url)
    return info.value.reason


@pytest.fixture
def verifier() -> HubSpotWebhookVerifier:
    return HubSpotWebhookVerifier(SECRET)


def test_given_valid_v3_signature_when_verify_then_accepted(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    verify(verifier, body, v3_headers(body))


def test_given_lowercase_header_names_when_verify_then_accepted(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    verify(verifier, body, {k.lower(): v for k, v in v3_headers(body).items()})


def test_given_sdk_algorithm_when_signing_then_same_signature() -> None:
    from hubspot.utils.signature import Signature  # HubSpot's own SDK as the oracle

    body = body_of(event())
    expected = Signature.get_signature(SECRET, body.decode(), "v3", URL, "POST", str(NOW_MS))
    assert sign_v3(SECRET, "POST", URL, body, NOW_MS) == expected
    assert sign_legacy(SECRET, "v2", "POST", URL, body) == Signature.get_signature(
        SECRET, body.decode(), "v2", URL, "POST"
    )


def test_given_tampered_body_when_verify_then_bad_signature(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    headers = v3_headers(body)
    assert reason_of(verifier, body.replace(b"qualifiedtobuy", b"closedwon"), headers) == "bad_signature"


def test_given_tampered_signature_when_verify_then_bad_signature(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    headers = v3_headers(body)
    sig = headers["X-HubSpot-Signature-v3"]
    headers["X-HubSpot-Signature-v3"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert reason_of(verifier, body, headers) == "bad_signature"


def test_given_other_url_or_method_when_verify_then_bad_signature(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    assert reason_of(verifier, body, v3_headers(body), url=URL.replace("conn-1", "conn-2")) == "bad_signature"
    assert reason_of(verifier, body, v3_headers(body, method="PUT")) == "bad_signature"


def test_given_six_minute_old_timestamp_when_verify_then_stale(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    assert reason_of(verifier, body, v3_headers(body, ts=NOW_MS - 360_000)) == "stale_timestamp"


def test_given_four_minute_old_timestamp_when_verify_then_accepted(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    verify(verifier, body, v3_headers(body, ts=NOW_MS - 240_000))


def test_given_future_timestamp_when_verify_then_stale(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    assert reason_of(verifier, body, v3_headers(body, ts=NOW_MS + 360_000)) == "stale_timestamp"


def test_given_seconds_or_garbage_timestamp_when_verify_then_rejected(
    verifier: HubSpotWebhookVerifier,
) -> None:
    body = body_of(event())
    assert reason_of(verifier, body, v3_headers(body, ts=int(NOW))) == "stale_timestamp"  # seconds, not ms
    headers = v3_headers(body)
    headers["X-HubSpot-Request-Timestamp"] = "yesterday"
    assert reason_of(verifier, body, headers) == "bad_timestamp"


def test_given_missing_headers_when_verify_then_rejected(verifier: HubSpotWebhookVerifier) -> None:
    body = body_of(event())
    assert reason_of(verifier, body, {}) == "missing_signature"
    headers = v3_headers(body)
    del headers["X-HubSpot-Request-Timestamp"]
    assert reason_of(verifier, body, headers) == "bad_timestamp"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_given_legacy_signature_when_not_enabled_then_rejected_and_when_enabled_then_accepted(
    verifier: HubSpotWebhookVerifier, version: str
) -> None:
    body = body_of(event())
    headers = {"X-HubSpot-Signature": sign_legacy(SECRET, version, "POST", URL, body),
               "X-HubSpot-Signature-Version": version}  # fmt: skip
    assert reason_of(verifier, body, headers) == "unsupported_version"
    legacy = HubSpotWebhookVerifier(SECRET, accept_versions=frozenset({"v3", version}))
    verify(legacy, body, headers)
    assert reason_of(legacy, body + b" ", headers) == "bad_signature"


def test_given_v1_signature_when_checking_then_matches_hubspot_docs_example() -> None:
    # Example from https://developers.hubspot.com/docs/faq/v1-request-validation
    body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
        b'"changeFlag":"NEW","appId":54321}]'
    )
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert (
        sign_legacy(SECRET, "v1", "POST", "", body)
        == expected
        == hashlib.sha256(SECRET.encode() + body).hexdigest()
    )


def test_given_url_encoded_uri_when_hubspot_signed_decoded_form_then_accepted(
    verifier: HubSpotWebhookVerifier,
) -> None:
    encoded = "https://qualify.example.com/webhooks/hubspot/conn%3A1?next=%2Fdeals%2C42&who=a%40b"
    decoded = "https://qualify.example.com/webhooks/hubspot/conn:1?next=/deals,42&who=a@b"
    body = body_of(event())
    verify(verifier, body, v3_headers(body, url=decoded), url=encoded)
    verify(verifier, body, v3_headers(body, url=encoded), url=encoded)  # and the raw form still works


def test_given_batch_of_100_when_parse_then_100_events(verifier: HubSpotWebhookVerifier) -> None:
    events = verifier.parse(body_of(*(event(i) for i in range(100))), {})
    assert len(events) == 100
    assert len({e.delivery_key for e in events}) == 100
    first = events[0]
    assert first.delivery_key == "33:25:0:1462216307945"
    assert (first.object_id, first.kind, first.object_type) == ("1246965", "property_change", "deal")
    assert (first.property_name, first.property_value) == ("dealstage", "qualifiedtobuy")
    assert (first.change_source, first.source_id, first.attempt) == ("CRM_UI", "userId:45678", 0)
    assert first.occurred_at == datetime(2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)
    assert first.raw["appId"] == 1160452


def test_given_redelivery_when_parse_then_same_delivery_key(verifier: HubSpotWebhookVerifier) -> None:
    (original,) = verifier.parse(body_of(event(7)), {})
    (retry,) = verifier.parse(body_of(event(7, attemptNumber=3)), {})
    assert retry.delivery_key == original.delivery_key
    assert retry.attempt == 3


@pytest.mark.parametrize(
    ("type_fields", "kind", "object_type"),
    [
        ({"subscriptionType": "deal.creation"}, "creation", "deal"),
        ({"subscriptionType": "deal.deletion"}, "deletion", "deal"),
        ({"subscriptionType": "deal.merge"}, "merge", "deal"),
        ({"subscriptionType": "deal.restore"}, "restore", "deal"),
        ({"subscriptionType": "deal.associationChange"}, "association", "deal"),
        ({"subscriptionType": "deal.privacyDeletion"}, "other", "deal"),
        ({"subscriptionType": None, "eventType": "deal.propertyChange"}, "property_change", "deal"),
        ({"subscriptionType": "object.propertyChange", "objectTypeId": "0-3"}, "property_change", "deal"),
        ({"subscriptionType": "object.creation", "objectTypeId": "0-1"}, "creation", "contact"),
        ({"subscriptionType": "contact.propertyChange"}, "property_change", "contact"),
    ],
)
def test_given_event_types_when_parse_then_kind_and_object_type(
    verifier: HubSpotWebhookVerifier, type_fields: dict[str, Any], kind: str, object_type: str
) -> None:
    (parsed,) = verifier.parse(body_of(event(**type_fields)), {})
    assert (parsed.kind, parsed.object_type) == (kind, object_type)


def test_given_single_object_or_association_event_when_parse_then_accepted(
    verifier: HubSpotWebhookVerifier,
) -> None:
    (single,) = verifier.parse(json.dumps(event(3)).encode(), {})
    assert single.delivery_key == "33:25:3:1462216307948"
    assoc = event(4, subscriptionType="deal.associationChange", fromObjectId=555, toObjectId=9)
    del assoc["objectId"]
    (parsed,) = verifier.parse(body_of(assoc), {})
    assert (parsed.kind, parsed.object_id) == ("association", "555")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[]", "bad_batch"),
        (b'"text"', "bad_batch"),
        (json.dumps([event(i) for i in range(101)]).encode(), "bad_batch"),
        (b"[1, 2]", "bad_event"),
        (json.dumps([{k: v for k, v in event().items() if k != "objectId"}]).encode(), "bad_event"),
        (json.dumps([{k: v for k, v in event().items() if k != "occurredAt"}]).encode(), "bad_event"),
        (json.dumps([{k: v for k, v in event().items() if k != "eventId"}]).encode(), "bad_event"),
        (json.dumps([event(occurredAt="yesterday")]).encode(), "bad_event"),
        (json.dumps([event(objectId={"id": 1})]).encode(), "bad_event"),
        (json.dumps([event(eventId=True)]).encode(), "bad_event"),
    ],
)
def test_given_malformed_body_when_parse_then_format_error(
    verifier: HubSpotWebhookVerifier, body: bytes, reason: str
) -> None:
    with pytest.raises(WebhookFormatError) as info:
        verifier.parse(body, {})
    assert info.value.reason == reason


def test_given_registry_when_asking_for_hubspot_then_verifier_and_unknown_kind_fails() -> None:
    settings = ConnectionSettings("hubspot", HUBSPOT_API, secrets={"client_secret": SECRET})
    v = kind_of("hubspot").build_verifier(settings, max_age_seconds=60)
    body = body_of(event())
    v.verify(method="POST", url=URL, headers=v3_headers(body), body=body, now=NOW)
    with pytest.raises(KeyError) as info:
        kind_of("zoho")
    assert isinstance(info.value, UnknownCRM)


def test_given_bad_configuration_when_building_then_value_error() -> None:
    with pytest.raises(ValueError):
        HubSpotWebhookVerifier("")
    with pytest.raises(ValueError):
        HubSpotWebhookVerifier(SECRET, accept_versions=frozenset({"v4"}))


def portal_reason(portal_id: str, *events: Any) -> str | None:
    """The WebhookAuthError reason of a validly signed delivery for a connection of `portal_id`, else None."""
    delivery = body_of(*events)
    try:
        verify(HubSpotWebhookVerifier(SECRET, portal_id=portal_id), delivery, v3_headers(delivery))
    except WebhookAuthError as exc:
        return exc.reason
    return None


def test_given_events_of_another_portal_when_verify_then_wrong_account() -> None:
    assert portal_reason("34", event()) == "wrong_account"
    assert portal_reason("33", event(1), event(2, portalId=99)) == "wrong_account"
    no_portal = {k: v for k, v in event().items() if k != "portalId"}
    assert portal_reason("33", no_portal) == "wrong_account"


def test_given_the_connections_portal_when_verify_and_parse_then_accepted_with_the_account_filled() -> None:
    assert portal_reason("33", event(1), event(2)) is None
    assert [e.account for e in HubSpotWebhookVerifier(SECRET).parse(body_of(event(1), event(2)), {})] == ["33", "33"]


def test_given_a_portal_and_a_body_that_is_not_a_batch_when_received_then_parse_refuses_it_not_verify() -> None:
    for delivery in (b"[1, 2", b"42", b'"events"'):
        verifier = HubSpotWebhookVerifier(SECRET, portal_id="33")
        verify(verifier, delivery, v3_headers(delivery))
        with pytest.raises(WebhookFormatError):
            verifier.parse(delivery, {})
