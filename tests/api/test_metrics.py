"""GET /metrics: served to the allowed addresses or the metrics token only (404 to anyone else, and never by
address through a proxy Qualify does not trust); counters that move with the webhooks, CRM calls, events,
decisions and outbox actions the test causes; gauges of the stored state read from the database at scrape time;
no secret and no URL on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.sandbox.hubspot import HubSpotSandbox
from service.jobs.worker import Worker
from service.models import Connection, InboundEvent, OutboxAction, RescoreRun, WorkerHeartbeat
from service.runtime import Runtime
from tests.api.conftest import (
    SANDBOX_SECRET,
    SANDBOX_TOKEN,
    assert_problem,
    connection_body,
    define_field,
    define_gate,
)
from tests.api.test_webhooks_api import PORTAL, deliver, event, signed

OTHER = {"REMOTE_ADDR": "203.0.113.7"}
TOKEN = "scrape-token-7f3a9c"
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MANAGER = 45678


def scrape(client: Any, **kwargs: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The page's samples by (name, labels); fails unless it is served."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return samples(response.get_data(as_text=True))


def samples(page: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(page) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """A sample's value, 0 when the page has no such sample (a labelled counter not counted yet)."""
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def hook(client: Any, admin_headers: dict[str, str]) -> int:
    """A HubSpot connection receiving webhooks (no CRM call is needed to receive)."""
    body = {"name": "Hooks", "kind": "hubspot", "access_token": "pat-unused-metrics-token",
            "client_secret": SANDBOX_SECRET, "account_id": str(PORTAL)}
    response = client.post("/v1/connections", json=body, headers=admin_headers)
    assert response.status_code == 201
    return int(response.get_json()["id"])


def blocked_move(sandbox: HubSpotSandbox) -> tuple[str, bytes]:
    """A manager creates a deal and moves it into the gated stage with its portrait empty; the deal's id and the
    webhook body of that move (delivered by the test)."""
    deal = sandbox.ui_create_deal({"dealname": "Acme", "dealstage": "appointmentscheduled", "pipeline": "default",
                                   "hubspot_owner_id": "101"}, user_id=MANAGER)
    sandbox.ui_move_deal(deal, "qualifiedtobuy", user_id=MANAGER)
    return deal, json.dumps([event(1, object_id=int(deal), sourceId=f"userId:{MANAGER}")]).encode()


def gated_connection(client: Any, headers: dict[str, str], sandbox: HubSpotSandbox) -> int:
    """A connection to the sandbox whose `qualifiedtobuy` stage requires the industry."""
    created = client.post("/v1/connections", json=connection_body(sandbox.base_url,
                                                                  account_id=str(sandbox.portal_id)), headers=headers)
    assert created.status_code == 201, created.get_json()
    cid = int(created.get_json()["id"])
    assert client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=headers).status_code == 200
    define_field(client, headers, "industry")
    mapped = client.put(f"/v1/connections/{cid}/mappings", json={"mappings": [{"property": "industry",
                                                                               "field": "industry"}]},
                        headers=headers)
    assert mapped.status_code == 200, mapped.get_json()
    define_gate(client, headers, cid, "qualifiedtobuy", ["industry"], mode="enforce")
    return cid


# ---- who may scrape ----------------------------------------------------------------------------------------


def test_given_a_loopback_client_then_the_page_is_served_uncached_in_prometheus_text(client: Any) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    assert "# TYPE qualify_webhooks_received_total counter" in response.get_data(as_text=True)


def test_given_an_openmetrics_accept_header_then_the_page_is_openmetrics(client: Any) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.status_code == 200
    assert response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_given_another_address_then_404_as_for_a_page_that_does_not_exist(client: Any) -> None:
    assert_problem(client.get("/metrics", environ_base=OTHER), 404)


def test_given_the_metrics_token_then_any_address_may_scrape_and_a_wrong_token_gets_404(
        make_client: Callable[..., Any]) -> None:
    client = make_client(metrics_token=TOKEN)

    assert client.get("/metrics", environ_base=OTHER, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert_problem(client.get("/metrics", environ_base=OTHER, headers={"Authorization": "Bearer nope"}), 404)
    assert_problem(client.get("/metrics", environ_base=OTHER, headers={"Authorization": TOKEN}), 404)


def test_given_an_allowed_network_then_its_addresses_may_scrape_and_loopback_no_longer(
        make_client: Callable[..., Any]) -> None:
    client = make_client(metrics_allow="10.0.0.0/8, 2001:db8::/32")

    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    assert_problem(client.get("/metrics"), 404)


def test_given_an_ipv4_mapped_loopback_address_then_it_counts_as_loopback(client: Any) -> None:
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200


def test_given_x_forwarded_for_without_trust_proxy_then_a_loopback_peer_is_refused(client: Any) -> None:
    # A reverse proxy on the same host connects from loopback: its clients must not inherit that address.
    assert_problem(client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}), 404)


def test_given_x_forwarded_for_and_the_token_then_the_token_still_lets_it_in(make_client: Callable[..., Any]) -> None:
    client = make_client(metrics_token=TOKEN)

    response = client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1", "Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200


def test_given_a_trusted_proxy_then_the_forwarded_client_address_is_the_one_checked(
        make_client: Callable[..., Any]) -> None:
    client = make_client(trust_proxy=True)

    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert_problem(client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"}), 404)


# ---- counters ----------------------------------------------------------------------------------------------


def test_given_a_signed_webhook_then_received_and_its_new_and_duplicate_events_are_counted(
        client: Any, hook: int) -> None:
    before = scrape(client)
    body = json.dumps([event(1), event(2, object_id="1002")]).encode()

    assert deliver(client, hook, body).status_code == 200
    assert deliver(client, hook, body).status_code == 200  # the same two events again

    after = scrape(client)
    assert value(after, "qualify_webhooks_received_total") - value(before, "qualify_webhooks_received_total") == 2
    for result, count in (("stored", 2), ("duplicate", 2)):
        labels = {"crm": "hubspot", "result": result}
        assert value(after, "qualify_webhook_events_total", **labels) - \
            value(before, "qualify_webhook_events_total", **labels) == count


@pytest.mark.parametrize(("how", "status", "reason"), [
    ("tampered", "401", "bad_signature"),
    ("stale", "401", "stale_timestamp"),
    ("not json", "400", "bad_json"),
    ("unknown connection", "404", "unknown_connection"),
])
def test_given_a_rejected_webhook_then_it_is_counted_with_its_status_and_reason(
        client: Any, hook: int, how: str, status: str, reason: str) -> None:
    before = scrape(client)
    body = json.dumps([event(1)]).encode()
    url = f"http://localhost/v1/webhooks/{hook}"
    if how == "tampered":
        response = client.post(f"/v1/webhooks/{hook}", data=body.replace(b"1001", b"6666"), headers=signed(body, url))
    elif how == "stale":
        response = deliver(client, hook, body, timestamp=int((datetime.now(UTC).timestamp() - 3600) * 1000))
    elif how == "not json":
        response = deliver(client, hook, b"{not json")
    else:
        response = deliver(client, hook + 1000, body)

    assert response.status_code == int(status)
    after = scrape(client)
    assert value(after, "qualify_webhooks_rejected_total", status=status, reason=reason) - \
        value(before, "qualify_webhooks_rejected_total", status=status, reason=reason) == 1
    assert value(after, "qualify_webhooks_received_total") == value(before, "qualify_webhooks_received_total")


def test_given_a_crm_answering_429_then_each_attempt_is_counted_by_crm_kind_and_status(
        client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> None:
    created = client.post("/v1/connections", json={
        "name": "Limited", "kind": "hubspot", "base_url": sandbox.base_url, "access_token": SANDBOX_TOKEN,
        "client_secret": SANDBOX_SECRET}, headers=admin_headers)
    assert created.status_code == 201
    before = scrape(client)
    sandbox.fail_next("429", count=1, retry_after=0.1)

    refreshed = client.post(f"/v1/connections/{created.get_json()['id']}/pipelines/refresh", headers=admin_headers)

    assert refreshed.status_code == 200, refreshed.get_json()
    after = scrape(client)
    limited = {"crm": "hubspot", "kind": "default", "status": "429", "outcome": "rate_limited"}
    ok = {"crm": "hubspot", "kind": "default", "status": "200", "outcome": "ok"}
    assert value(after, "qualify_crm_calls_total", **limited) - value(before, "qualify_crm_calls_total", **limited) == 1
    assert value(after, "qualify_crm_calls_total", **ok) > value(before, "qualify_crm_calls_total", **ok)
    assert value(after, "qualify_crm_call_seconds_count", crm="hubspot") > \
        value(before, "qualify_crm_call_seconds_count", crm="hubspot")


def test_given_a_blocked_move_then_the_event_the_decision_and_both_outbox_actions_are_counted(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    cid = gated_connection(client, admin_headers, sandbox)
    _, body = blocked_move(sandbox)
    before = scrape(client)

    assert client.post(f"/v1/webhooks/{cid}", data=body,
                       headers=signed(body, f"http://localhost/v1/webhooks/{cid}")).status_code == 200
    Worker(runtime).run_until_idle()

    after = scrape(client)
    for name, labels in (("qualify_events_total", {"outcome": "done"}),
                         ("qualify_decisions_total", {"outcome": "blocked", "origin": "webhook"}),
                         ("qualify_outbox_actions_total", {"kind": "revert_stage", "outcome": "done"}),
                         ("qualify_outbox_actions_total", {"kind": "create_task", "outcome": "done"})):
        assert value(after, name, **labels) - value(before, name, **labels) == 1, (name, labels)


# ---- gauges of the stored state ----------------------------------------------------------------------------


def test_given_stored_backlog_sync_and_rescore_rows_then_the_gauges_read_them(
        client: Any, runtime: Runtime, hook: int) -> None:
    runtime.clock = lambda: NOW
    with runtime.uow() as uow:
        session = uow.session
        connection = session.get_one(Connection, hook)
        connection.last_synced_at, connection.sync_cursor = NOW - timedelta(seconds=60), NOW - timedelta(seconds=90)
        session.add(InboundEvent(connection_id=hook, delivery_key="k1", object_id="1001", kind="property_change",
                                 occurred_at=NOW - timedelta(seconds=130), payload={}, status="received",
                                 received_at=NOW - timedelta(seconds=120)))
        session.add(InboundEvent(connection_id=hook, delivery_key="k2", object_id="1002", kind="property_change",
                                 occurred_at=NOW, payload={}, status="received", received_at=NOW,
                                 available_at=NOW + timedelta(seconds=30)))  # retried later: not ready yet
        session.add(OutboxAction(connection_id=hook, kind="create_task", payload={}, idempotency_key="a1",
                                 status="pending", created_at=NOW - timedelta(seconds=300),
                                 next_attempt_at=NOW - timedelta(seconds=200)))
        session.add(OutboxAction(connection_id=hook, kind="create_task", payload={}, idempotency_key="a2",
                                 status="done", created_at=NOW - timedelta(seconds=900), next_attempt_at=NOW))
        session.add(RescoreRun(status="running", total=10, done=4))
        session.add(RescoreRun(status="done", total=50, done=50))
        session.add(WorkerHeartbeat(worker="host:1", started_at=NOW - timedelta(hours=1),
                                    beat_at=NOW - timedelta(seconds=5)))
        uow.commit()

    found = scrape(client)

    assert value(found, "qualify_database_up") == 1
    assert value(found, "qualify_events_backlog") == 2
    assert value(found, "qualify_events_oldest_ready_age_seconds") == 120
    assert value(found, "qualify_outbox_backlog") == 1
    assert value(found, "qualify_outbox_oldest_age_seconds") == 300
    assert value(found, "qualify_outbox_oldest_due_age_seconds") == 200
    assert value(found, "qualify_sync_lag_seconds", connection=str(hook), crm="hubspot") == 60
    assert value(found, "qualify_sync_cursor_lag_seconds", connection=str(hook), crm="hubspot") == 90
    assert (value(found, "qualify_rescore_runs_active"), value(found, "qualify_rescore_records_done"),
            value(found, "qualify_rescore_records_total")) == (1, 4, 10)
    assert value(found, "qualify_worker_heartbeat_age_seconds") == 5
    assert value(found, "qualify_workers_alive") == 1


def test_given_nothing_stored_then_the_gauges_are_zero_and_no_heartbeat_age_is_shown(client: Any) -> None:
    found = scrape(client)

    assert value(found, "qualify_events_backlog") == value(found, "qualify_outbox_backlog") == 0
    assert value(found, "qualify_outbox_oldest_age_seconds") == 0
    assert ("qualify_worker_heartbeat_age_seconds", frozenset()) not in found


def test_the_page_shows_no_secret_no_url_and_no_client_input(
        client: Any, admin_headers: dict[str, str], make_client: Callable[..., Any], hook: int) -> None:
    deliver(client, hook, json.dumps([event(1)]).encode())
    client.post(f"/v1/webhooks/{hook}?secret=hunter2-in-the-url", data=b"[]")
    client.post("/v1/webhooks/424242", data=b"[]", headers={"X-Request-Id": "client-chosen-id"})
    with_token = make_client(metrics_token=TOKEN)

    page = with_token.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)

    for secret in (SANDBOX_SECRET, "pat-unused-metrics-token", "hunter2", TOKEN, "client-chosen-id",
                   admin_headers["Authorization"].removeprefix("Bearer ")):
        assert secret not in page
    assert "http://" not in page and "https://" not in page and "424242" not in page
