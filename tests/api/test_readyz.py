"""GET /readyz: 200 when the database answers at the latest migration, a worker beat recently and no due work
has waited too long; 503 naming each failing check otherwise. A limit of 0 turns its check off (the test
settings turn the heartbeat check off, so these tests turn it on)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from service.db import utcnow
from service.jobs.worker import Worker
from service.migrate import head_revision
from service.models import InboundEvent, OutboxAction, WorkerHeartbeat
from service.runtime import Runtime
from tests.api.conftest import assert_problem

LIMIT = 60  # seconds, both checks


@pytest.fixture
def connection_id(client: Any, admin_headers: dict[str, str]) -> int:
    body = {"name": "Ready", "kind": "hubspot", "access_token": "pat-unused", "client_secret": "s3cret"}
    response = client.post("/v1/connections", json=body, headers=admin_headers)
    assert response.status_code == 201
    return int(response.get_json()["id"])


def add_heartbeat(runtime: Runtime, age_seconds: float, worker: str = "host:1") -> None:
    now = utcnow()
    with runtime.uow() as uow:
        uow.session.add(WorkerHeartbeat(worker=worker, started_at=now - timedelta(hours=1),
                                        beat_at=now - timedelta(seconds=age_seconds)))
        uow.commit()


def add_event(runtime: Runtime, connection_id: int, waited_seconds: float, *, due_in: float | None = None) -> None:
    now = utcnow()
    with runtime.uow() as uow:
        uow.session.add(InboundEvent(
            connection_id=connection_id, delivery_key=f"key-{waited_seconds}-{due_in}", object_id="1001",
            kind="property_change", occurred_at=now - timedelta(seconds=waited_seconds), payload={},
            status="received", received_at=now - timedelta(seconds=waited_seconds),
            available_at=None if due_in is None else now + timedelta(seconds=due_in)))
        uow.commit()


def add_action(runtime: Runtime, connection_id: int, due_seconds_ago: float) -> None:
    now = utcnow()
    with runtime.uow() as uow:
        uow.session.add(OutboxAction(connection_id=connection_id, kind="create_task", payload={},
                                     idempotency_key=f"action-{due_seconds_ago}", status="pending",
                                     created_at=now - timedelta(seconds=abs(due_seconds_ago) + 10),
                                     next_attempt_at=now - timedelta(seconds=due_seconds_ago)))
        uow.commit()


def test_given_the_heartbeat_check_on_and_no_worker_ever_beat_then_503_naming_worker(
        make_client: Callable[..., Any]) -> None:
    client = make_client(ready_heartbeat_seconds=LIMIT)

    problem = assert_problem(client.get("/readyz"), 503, detail_contains="worker")

    assert set(problem["errors"]) == {"worker"}
    assert "no worker" in problem["errors"]["worker"][0]


def test_given_a_fresh_heartbeat_then_200_with_every_check(make_client: Callable[..., Any],
                                                          runtime: Runtime) -> None:
    add_heartbeat(runtime, age_seconds=3)
    client = make_client(ready_heartbeat_seconds=LIMIT, ready_backlog_seconds=LIMIT)

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["migration"] == head_revision()
    assert checks["worker"].startswith("ok: 1 alive")
    assert checks["backlog"].startswith("ok")


def test_given_only_an_old_heartbeat_then_503_naming_worker_and_its_age(make_client: Callable[..., Any],
                                                                        runtime: Runtime) -> None:
    add_heartbeat(runtime, age_seconds=LIMIT * 3)
    client = make_client(ready_heartbeat_seconds=LIMIT)

    problem = assert_problem(client.get("/readyz"), 503, detail_contains="worker")

    assert f"(limit {LIMIT} s)" in problem["errors"]["worker"][0]


def test_given_a_running_worker_then_its_heartbeat_makes_readyz_200(make_client: Callable[..., Any],
                                                                    runtime: Runtime) -> None:
    client = make_client(ready_heartbeat_seconds=LIMIT)
    assert client.get("/readyz").status_code == 503
    stop = threading.Event()
    thread = threading.Thread(target=Worker(runtime, stop).run_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the worker wrote no heartbeat"
            time.sleep(0.05)
    finally:
        stop.set()
        runtime.wake_worker()
        thread.join(5)


def test_given_an_event_ready_for_too_long_then_503_naming_backlog(make_client: Callable[..., Any],
                                                                   runtime: Runtime, connection_id: int) -> None:
    add_event(runtime, connection_id, waited_seconds=LIMIT * 2)
    client = make_client(ready_backlog_seconds=LIMIT)

    problem = assert_problem(client.get("/readyz"), 503, detail_contains="backlog")

    assert set(problem["errors"]) == {"backlog"}
    assert "oldest ready event" in problem["errors"]["backlog"][0]


def test_given_an_outbox_action_due_for_too_long_then_503_naming_backlog(
        make_client: Callable[..., Any], runtime: Runtime, connection_id: int) -> None:
    add_action(runtime, connection_id, due_seconds_ago=LIMIT * 2)
    client = make_client(ready_backlog_seconds=LIMIT)

    problem = assert_problem(client.get("/readyz"), 503, detail_contains="backlog")

    assert "oldest ready outbox action" in problem["errors"]["backlog"][0]


def test_given_work_waiting_for_a_later_retry_or_recent_then_the_backlog_check_passes(
        make_client: Callable[..., Any], runtime: Runtime, connection_id: int) -> None:
    add_event(runtime, connection_id, waited_seconds=LIMIT * 5, due_in=30)  # retried later: not ready yet
    add_event(runtime, connection_id, waited_seconds=1)
    add_action(runtime, connection_id, due_seconds_ago=-30)  # backing off
    add_action(runtime, connection_id, due_seconds_ago=1)
    client = make_client(ready_backlog_seconds=LIMIT)

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"]["backlog"] == "ok: 2 events, 2 actions waiting"


def test_given_both_checks_failing_then_503_names_both(make_client: Callable[..., Any], runtime: Runtime,
                                                       connection_id: int) -> None:
    add_event(runtime, connection_id, waited_seconds=LIMIT * 2)
    client = make_client(ready_heartbeat_seconds=LIMIT, ready_backlog_seconds=LIMIT)

    problem = assert_problem(client.get("/readyz"), 503)

    assert set(problem["errors"]) == {"worker", "backlog"}


def test_given_limits_of_zero_then_those_checks_are_off(make_client: Callable[..., Any], runtime: Runtime,
                                                        connection_id: int) -> None:
    add_event(runtime, connection_id, waited_seconds=LIMIT * 100)
    client = make_client(ready_heartbeat_seconds=0, ready_backlog_seconds=0)

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()["checks"]) == {"database", "migration"}


def test_healthz_needs_no_database_and_ignores_the_checks(make_client: Callable[..., Any]) -> None:
    client = make_client(ready_heartbeat_seconds=LIMIT)

    assert client.get("/healthz").get_json() == {"status": "ok", "checks": {}}
