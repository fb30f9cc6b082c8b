"""POST /v1/webhooks/{id}: HubSpot signatures verified over the exact URL the app sees, raw events stored
deduplicated, and nothing stored for anything not authentic or not understood."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.hubspot_webhooks import sign_legacy, sign_v3
from service.models import InboundEvent, WebhookDelivery
from service.runtime import Runtime
from tests.api.conftest import PORTAL, SANDBOX_SECRET, assert_problem


def now_ms() -> int:
    return int(time.time() * 1000)


def event(event_id: int, object_id: Any = 1001, **extra: Any) -> dict[str, Any]:
    return {"eventId": event_id, "subscriptionId": 7, "portalId": PORTAL, "appId": 1160452, "occurredAt": now_ms(),
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": object_id,
            "propertyName": "dealstage", "propertyValue": "qualifiedtobuy", "changeSource": "CRM_UI", **extra}


def signed(body: bytes, url: str, *, secret: str = SANDBOX_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(now_ms() if timestamp is None else timestamp)
    return {"X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts), "X-HubSpot-Request-Timestamp": ts,
            "Content-Type": "application/json"}


def deliver(client: Any, connection_id: int, body: bytes, **sign: Any) -> Any:
    url = f"http://localhost/v1/webhooks/{connection_id}"
    return client.post(f"/v1/webhooks/{connection_id}", data=body, headers=signed(body, url, **sign))


def stored(runtime: Runtime) -> tuple[int, int]:
    """(events, deliveries) in the database."""
    with runtime.uow() as uow:
        events = uow.session.scalar(select(func.count()).select_from(InboundEvent))
        deliveries = uow.session.scalar(select(func.count()).select_from(WebhookDelivery))
    return int(events or 0), int(deliveries or 0)


def test_given_a_valid_v3_delivery_then_200_and_the_events_are_stored_raw(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1), event(2, object_id="1002")]).encode()

    response = deliver(client, hook, body)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"received": 2, "stored": 2, "duplicates": 0}
    events = client.get(f"/v1/events?connection_id={hook}", headers=admin_headers).get_json()
    assert events["total"] == 2
    assert sorted(e["object_id"] for e in events["items"]) == ["1001", "1002"]
    assert {e["status"] for e in events["items"]} == {"received"}
    assert {e["kind"] for e in events["items"]} == {"property_change"}
    assert events["items"][0]["payload"]["propertyValue"] == "qualifiedtobuy"
    with runtime.uow() as uow:
        delivery = uow.session.scalars(select(WebhookDelivery)).one()
        assert delivery.body == body and delivery.event_count == 2


def test_given_the_same_delivery_twice_then_the_second_is_acknowledged_as_duplicates(
        client: Any, runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1), event(2)]).encode()
    assert deliver(client, hook, body).status_code == 200

    again = deliver(client, hook, body)

    assert again.status_code == 200
    assert again.get_json() == {"received": 2, "stored": 0, "duplicates": 2}
    assert stored(runtime) == (2, 1)


def test_given_a_delivery_repeating_an_event_inside_it_then_it_is_stored_once(
        client: Any, runtime: Runtime, hook: int) -> None:
    first = event(1)

    response = deliver(client, hook, json.dumps([first, first, event(2)]).encode())

    assert response.get_json() == {"received": 3, "stored": 2, "duplicates": 1}
    assert stored(runtime)[0] == 2


def test_given_a_tampered_body_then_401_and_nothing_stored(client: Any, runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1)]).encode()
    url = f"http://localhost/v1/webhooks/{hook}"
    headers = signed(body, url)

    response = client.post(f"/v1/webhooks/{hook}", data=body.replace(b"1001", b"6666"), headers=headers)

    problem = assert_problem(response, 401, detail_contains="not authentic")
    assert problem["errors"] == {"reason": ["bad_signature"]}
    assert stored(runtime) == (0, 0)


@pytest.mark.parametrize("how", ["other secret", "garbage", "missing", "other url"])
def test_given_a_bad_signature_then_401_and_nothing_stored(client: Any, runtime: Runtime, hook: int,
                                                           how: str) -> None:
    body = json.dumps([event(1)]).encode()
    url = f"http://localhost/v1/webhooks/{hook}"
    headers = {
        "other secret": signed(body, url, secret="someone-else"),
        "garbage": {**signed(body, url), "X-HubSpot-Signature-v3": "bm90IGEgc2lnbmF0dXJl"},
        "missing": {"Content-Type": "application/json"},
        "other url": signed(body, f"https://evil.example.com/v1/webhooks/{hook}"),
    }[how]

    response = client.post(f"/v1/webhooks/{hook}", data=body, headers=headers)

    assert_problem(response, 401)
    assert stored(runtime) == (0, 0)


@pytest.mark.parametrize("age_seconds", [360, -360])
def test_given_a_timestamp_six_minutes_off_then_401_and_nothing_stored(client: Any, runtime: Runtime, hook: int,
                                                                       age_seconds: int) -> None:
    body = json.dumps([event(1)]).encode()

    response = deliver(client, hook, body, timestamp=now_ms() - age_seconds * 1000)

    problem = assert_problem(response, 401)
    assert problem["errors"] == {"reason": ["stale_timestamp"]}
    assert stored(runtime) == (0, 0)


def test_given_a_timestamp_four_minutes_old_then_accepted(client: Any, hook: int) -> None:
    body = json.dumps([event(1)]).encode()

    assert deliver(client, hook, body, timestamp=now_ms() - 240_000).status_code == 200


@pytest.mark.parametrize(("body", "reason"), [
    (b'[{"eventId": 1,', "bad_json"),
    (b"\xff\xfe\x00", "bad_json"),
    (b'"events"', "bad_batch"),
    (b"42", "bad_batch"),
    (b"[]", "bad_batch"),
    (json.dumps([event(n) for n in range(101)]).encode(), "bad_batch"),
    (json.dumps([event(1), "not an event"]).encode(), "bad_event"),
    (json.dumps([{k: v for k, v in event(1).items() if k != "objectId"}]).encode(), "bad_event"),
    (json.dumps([event(1, object_id=True)]).encode(), "bad_event"),
    (json.dumps([{**event(1), "eventId": "one"}]).encode(), "bad_event"),
    (b"[" * 5000 + b"]" * 5000, "bad_json"),
])
def test_given_a_signed_body_that_is_not_a_batch_of_events_then_400_and_nothing_stored(
        client: Any, runtime: Runtime, hook: int, body: bytes, reason: str) -> None:
    response = deliver(client, hook, body)

    problem = assert_problem(response, 400, detail_contains="not understood")
    assert problem["errors"] == {"reason": [reason]}
    assert stored(runtime) == (0, 0)


def test_given_a_body_over_the_size_limit_then_413_and_nothing_stored(
        make_client: Callable[..., Any], runtime: Runtime, hook: int) -> None:
    small = make_client(max_body_bytes=2000)
    body = json.dumps([event(n) for n in range(20)]).encode()
    assert len(body) > 2000

    response = deliver(small, hook, body)

    assert_problem(response, 413)
    assert stored(runtime) == (0, 0)


def test_given_an_unknown_or_inactive_connection_then_404(client: Any, admin_headers: dict[str, str],
                                                          runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1)]).encode()
    assert_problem(deliver(client, 4242, body), 404)

    client.patch(f"/v1/connections/{hook}", json={"active": False}, headers=admin_headers)

    assert_problem(deliver(client, hook, body), 404)
    assert stored(runtime) == (0, 0)


def test_given_events_for_another_portal_then_401_and_nothing_stored(client: Any, runtime: Runtime,
                                                                     hook: int) -> None:
    body = json.dumps([event(1), {**event(2), "portalId": 99999}]).encode()

    problem = assert_problem(deliver(client, hook, body), 401)

    assert problem["errors"] == {"reason": ["wrong_account"]}
    assert stored(runtime) == (0, 0)


def test_given_a_batch_of_100_events_then_100_are_stored(client: Any, admin_headers: dict[str, str],
                                                         runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(n, object_id=str(5000 + n)) for n in range(100)]).encode()

    response = deliver(client, hook, body)

    assert response.get_json() == {"received": 100, "stored": 100, "duplicates": 0}
    assert stored(runtime) == (100, 1)
    assert client.get("/v1/events?page_size=500", headers=admin_headers).get_json()["total"] == 100


def proxied(client: Any, hook: int, body: bytes, signed_url: str) -> Any:
    headers = {**signed(body, signed_url), "X-Forwarded-Proto": "https", "X-Forwarded-Host": "qualify.example.com",
               "X-Forwarded-For": "203.0.113.9"}
    return client.post(f"/v1/webhooks/{hook}", data=body, headers=headers)


def test_given_trust_proxy_when_signed_for_the_public_url_then_accepted(
        make_client: Callable[..., Any], hook: int) -> None:
    behind_proxy = make_client(trust_proxy=True)
    body = json.dumps([event(1)]).encode()

    response = proxied(behind_proxy, hook, body, f"https://qualify.example.com/v1/webhooks/{hook}")

    assert response.status_code == 200, response.get_json()
    assert proxied(behind_proxy, hook, json.dumps([event(2)]).encode(),
                   f"http://localhost/v1/webhooks/{hook}").status_code == 401


def test_given_no_trust_proxy_then_forwarded_headers_are_ignored(client: Any, runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1)]).encode()

    assert_problem(proxied(client, hook, body, f"https://qualify.example.com/v1/webhooks/{hook}"), 401)
    assert proxied(client, hook, body, f"http://localhost/v1/webhooks/{hook}").status_code == 200
    assert stored(runtime) == (1, 1)


def test_given_a_public_url_setting_then_signatures_are_checked_against_it(
        make_client: Callable[..., Any], hook: int) -> None:
    public = make_client(public_url="https://hooks.example.com")
    body = json.dumps([event(1)]).encode()
    url = f"https://hooks.example.com/v1/webhooks/{hook}"

    response = public.post(f"/v1/webhooks/{hook}", data=body, headers=signed(body, url))

    assert response.status_code == 200, response.get_json()


def v1_signed(body: bytes) -> dict[str, str]:
    return {"X-HubSpot-Signature": sign_legacy(SANDBOX_SECRET, "v1", "POST", "", body),
            "X-HubSpot-Signature-Version": "v1", "Content-Type": "application/json"}


def test_given_a_v1_signature_then_accepted_only_when_the_connection_accepts_v1(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1)]).encode()

    refused = client.post(f"/v1/webhooks/{hook}", data=body, headers=v1_signed(body))
    assert assert_problem(refused, 401)["errors"] == {"reason": ["unsupported_version"]}
    assert stored(runtime) == (0, 0)

    patched = client.patch(f"/v1/connections/{hook}", json={"signature_versions": ["v3", "v1"]},
                           headers=admin_headers)
    assert patched.status_code == 200

    accepted = client.post(f"/v1/webhooks/{hook}", data=body, headers=v1_signed(body))
    assert accepted.status_code == 200, accepted.get_json()
    assert stored(runtime) == (1, 1)
    tampered = client.post(f"/v1/webhooks/{hook}", data=body.replace(b"1001", b"7"), headers=v1_signed(body))
    assert_problem(tampered, 401)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_given_another_method_then_405_with_allow(client: Any, hook: int, method: str) -> None:
    response = client.open(f"/v1/webhooks/{hook}", method=method)

    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]
