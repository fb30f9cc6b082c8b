"""Webhook health per connection: deliveries refused with 400/401/403/413/415/422 are counted per connection,
hour and reason from a closed set (never for an unknown connection, never for an accepted delivery), and
GET /v1/connections/{id}/health shows them with the accepted deliveries and the last sync, to admins only."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

import service.services.webhook_health as health_service
from service.models import WebhookRejection
from service.runtime import Runtime
from service.services.webhook_health import REASONS, count_rejection, rejection_reason, webhook_health
from tests.api.conftest import SANDBOX_SECRET, assert_problem
from tests.api.test_webhooks_api import deliver, event

LOOPBACK = "http://127.0.0.1:9"  # never called: receiving a delivery needs no CRM call
APP_TOKEN = "b24-application-token"

# Per CRM: the connection body, and deliveries refused for a wrong credential (how, and the reason expected).
CONNECTIONS: dict[str, dict[str, Any]] = {
    "hubspot": {"access_token": "pat-unused", "client_secret": SANDBOX_SECRET},
    "pipedrive": {"base_url": LOOPBACK, "access_token": "unused", "webhook_password": "right-password"},
    "amocrm": {"base_url": LOOPBACK, "access_token": "unused"},
    "bitrix24": {"base_url": f"{LOOPBACK}/rest/1/code/", "application_token": APP_TOKEN},
}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _bitrix_form(token: str | None) -> bytes:
    fields = {"event": "ONCRMDEALUPDATE", "data[FIELDS][ID]": "7", "ts": "1736405807",
              "auth[domain]": "127.0.0.1", "auth[member_id]": "m1"}
    if token is not None:
        fields["auth[application_token]"] = token
    return urlencode(fields).encode()


Refusal = Callable[[Any, int], Any]
REFUSALS: dict[str, list[tuple[Refusal, str]]] = {
    "hubspot": [
        (lambda c, cid: deliver(c, cid, json.dumps([event(1)]).encode(), secret="someone-else"), "bad_signature"),
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}", data=b"[]", content_type="application/json"),
         "missing_signature"),
    ],
    "pipedrive": [
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}", data=b"{}", content_type="application/json",
                               headers={"Authorization": _basic("wrong-user", "right-password")}), "bad_auth"),
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}", data=b"{}", content_type="application/json"),
         "missing_auth"),
    ],
    "amocrm": [
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}?secret=guessed", data=b"leads[status][0][id]=1",
                               content_type="application/x-www-form-urlencoded"), "bad_secret"),
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}?secret=", data=b"leads[status][0][id]=1",
                               content_type="application/x-www-form-urlencoded"), "missing_secret"),
    ],
    "bitrix24": [
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}", data=_bitrix_form("guessed"),
                               content_type="application/x-www-form-urlencoded"), "bad_token"),
        (lambda c, cid: c.post(f"/v1/webhooks/{cid}", data=_bitrix_form(None),
                               content_type="application/x-www-form-urlencoded"), "missing_token"),
    ],
}


def connect(client: Any, headers: dict[str, str], kind: str) -> int:
    """A connection of `kind` through the API; its id."""
    response = client.post("/v1/connections", json={"name": f"{kind} hooks", "kind": kind, **CONNECTIONS[kind]},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def health(client: Any, headers: dict[str, str], connection_id: int, **query: Any) -> dict[str, Any]:
    response = client.get(f"/v1/connections/{connection_id}/health", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def stored_rows(runtime: Runtime) -> int:
    with runtime.read_uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(WebhookRejection)) or 0)


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_given_deliveries_with_wrong_credentials_then_health_counts_them_by_reason(
        client: Any, admin_headers: dict[str, str], kind: str) -> None:
    cid = connect(client, admin_headers, kind)
    sent: Counter[str] = Counter()
    for times, (send, reason) in zip((3, 2), REFUSALS[kind], strict=True):
        for _ in range(times):
            problem = assert_problem(send(client, cid), 401)
            assert problem["errors"] == {"reason": [reason]}
            sent[reason] += 1

    shown = health(client, admin_headers, cid)

    assert {r["reason"]: r["count"] for r in shown["rejections"]} == dict(sent)
    assert shown["rejected"] == sum(sent.values())
    assert [r["reason"] for r in shown["rejections"]] == [reason for reason, _ in sent.most_common()]
    assert all(r["last_at"] for r in shown["rejections"])
    assert shown["deliveries"] == 0 and shown["last_delivery_at"] is None
    assert shown["hint_code"] == "only_refused"


def test_given_accepted_deliveries_then_they_are_counted_and_the_acknowledgement_writes_no_rejection(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    first, second = json.dumps([event(1), event(2)]).encode(), json.dumps([event(3)]).encode()
    answers = [deliver(client, hook, body) for body in (first, second, first)]  # the last: duplicates only
    assert [a.status_code for a in answers] == [200, 200, 200]

    shown = health(client, admin_headers, hook)

    new_deliveries = sum(1 for a in answers if a.get_json()["stored"] > 0)
    assert shown["deliveries"] == new_deliveries == 2
    assert shown["events"] == sum(a.get_json()["stored"] for a in answers) == 3
    assert shown["last_delivery_at"] is not None and shown["last_event_at"] is not None
    assert shown["rejected"] == 0 and shown["rejections"] == []
    assert shown["hint_code"] is None
    assert stored_rows(runtime) == 0


def test_given_a_malformed_and_a_too_large_delivery_then_each_is_counted_under_its_status_reason(
        client: Any, app: Any, admin_headers: dict[str, str], hook: int) -> None:
    not_json = deliver(client, hook, b"[{")
    too_large = client.post(f"/v1/webhooks/{hook}", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                            content_type="application/json")
    reason = assert_problem(not_json, 400)["errors"]["reason"][0]
    assert_problem(too_large, 413)

    shown = health(client, admin_headers, hook)

    assert {r["reason"]: r["count"] for r in shown["rejections"]} == {reason: 1, "too_large": 1}


def test_given_an_unknown_or_deactivated_connection_then_nothing_is_counted(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    assert client.delete(f"/v1/connections/{hook}", headers=admin_headers).status_code == 204
    for path in ("/v1/webhooks/2147483000", f"/v1/webhooks/{hook}"):
        assert_problem(client.post(path, data=b"[]", content_type="application/json"), 404)

    count_rejection(runtime, 2147483000, "bad_signature", runtime.clock())  # no such connection: no row, no error

    assert stored_rows(runtime) == 0


def test_given_a_reason_outside_the_closed_set_then_it_is_counted_as_other(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    made_up = ["'; drop table webhook_rejections; --", "x" * 500, "bad_signature2"]
    for reason in made_up:
        count_rejection(runtime, hook, reason, runtime.clock())

    shown = health(client, admin_headers, hook)

    assert shown["rejections"] == [{"reason": "other", "count": len(made_up), "last_at": shown["rejections"][0]
                                    ["last_at"]}]
    assert not set(made_up) & REASONS
    assert [rejection_reason(401, r) for r in made_up] == ["other"] * len(made_up)
    assert rejection_reason(401, "bad_token") == "bad_token"
    assert rejection_reason(422, "bad_token") == "malformed"  # only 400, 401 and 403 carry their own reason
    assert [rejection_reason(s) for s in (200, 404, 429, 503)] == [None] * 4


def test_given_refusals_older_than_the_window_then_only_a_longer_window_counts_them(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, hook: int) -> None:
    now = runtime.clock()
    at = {"bad_signature": [now, now - timedelta(minutes=5)], "stale_timestamp": [now - timedelta(hours=30)]}
    for reason, times in at.items():
        for when in times:
            count_rejection(runtime, hook, reason, when)

    day, two_days = health(client, admin_headers, hook), health(client, admin_headers, hook, hours=48)

    assert {r["reason"]: r["count"] for r in day["rejections"]} == {"bad_signature": len(at["bad_signature"])}
    assert {r["reason"]: r["count"] for r in two_days["rejections"]} == {k: len(v) for k, v in at.items()}
    assert webhook_health(runtime, hook)["rejections"][0]["last_at"] == max(at["bad_signature"])


def test_given_counting_fails_then_the_refusal_is_answered_all_the_same(
        client: Any, runtime: Runtime, hook: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(health_service, "_upsert", broken)

    response = deliver(client, hook, json.dumps([event(1)]).encode(), secret="someone-else")

    assert assert_problem(response, 401)["errors"] == {"reason": ["bad_signature"]}
    assert stored_rows(runtime) == 0


def test_given_a_new_connection_then_health_hints_that_nothing_arrived_until_a_sync_is_queued(
        client: Any, admin_headers: dict[str, str], hook: int) -> None:
    before = health(client, admin_headers, hook)
    queued = client.post(f"/v1/connections/{hook}/sync", json={}, headers=admin_headers)
    assert queued.status_code == 202, queued.get_json()

    after = health(client, admin_headers, hook)

    assert before["hint_code"] == "nothing_received" and before["hint"] and before["last_sync"] is None
    assert after["hint_code"] is None
    assert after["last_sync"]["id"] == queued.get_json()["id"] and after["last_sync"]["status"] == "queued"


def test_health_is_for_admins_of_existing_connections(client: Any, admin_headers: dict[str, str],
                                                     manager_headers: dict[str, str], hook: int) -> None:
    assert_problem(client.get(f"/v1/connections/{hook}/health", headers=manager_headers), 403)
    assert_problem(client.get(f"/v1/connections/{hook}/health"), 401)
    assert_problem(client.get("/v1/connections/2147483000/health", headers=admin_headers), 404,
                   detail_contains="does not exist")
    assert_problem(client.get(f"/v1/connections/{hook}/health?hours=0", headers=admin_headers), 422)
    assert_problem(client.get(f"/v1/connections/{hook}/health?days=1", headers=admin_headers), 400)
