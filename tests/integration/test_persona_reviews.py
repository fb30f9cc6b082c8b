"""Persona review reminders against a real database: stale personas are reported once to a loopback
webhook receiver (the owner has no CRM user), retried when the receiver fails, re-armed by a review."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.models import OutboxAction, Persona
from service.runtime import Runtime
from service.services.personas import mark_reviewed
from service.services.reviews import notify_stale_personas


class Receiver:
    """A loopback HTTP endpoint that records JSON POSTs and answers `status`."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.status < 300:
                    receiver.posts.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/review"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver, shut down after the test."""
    r = Receiver()
    yield r
    r.server.shutdown()


def add_persona(runtime: Runtime, reviewed: date, **extra: Any) -> int:
    with runtime.uow() as uow:
        row = Persona(name=f"P{reviewed}", ring="core", review_interval_days=30, last_reviewed_on=reviewed,
                      criteria=[], thresholds={"A": 80, "B": 60, "C": 40}, owner="ops@example.com", **extra)
        uow.session.add(row)
        uow.commit()
        return row.id


def test_a_stale_persona_is_reported_once_and_again_only_after_a_review_falls_due(
        runtime: Runtime, receiver: Receiver) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, notify_webhook_url=receiver.url)
    today = runtime.clock().date()
    stale = add_persona(runtime, today - timedelta(days=31))
    add_persona(runtime, today - timedelta(days=29))  # not yet due

    first, second = notify_stale_personas(runtime), notify_stale_personas(runtime)

    assert (first, second) == ([stale], [])
    assert [(p["event"], p["persona_id"], p["owner"]) for p in receiver.posts] == [
        ("persona.review_due", stale, "ops@example.com")]
    assert receiver.posts[0]["review_due_on"] == (today - timedelta(days=1)).isoformat()
    clock = runtime.clock
    runtime.clock = lambda: clock() - timedelta(days=40)  # a review that is itself overdue again
    mark_reviewed(runtime, stale)
    runtime.clock = clock
    assert notify_stale_personas(runtime) == [stale]
    assert len(receiver.posts) == 2


def test_a_failing_receiver_leaves_the_persona_unmarked_so_the_next_run_retries(
        runtime: Runtime, receiver: Receiver) -> None:
    runtime.settings = dataclasses.replace(runtime.settings, notify_webhook_url=receiver.url)
    stale = add_persona(runtime, runtime.clock().date() - timedelta(days=60))
    receiver.status = 500

    assert notify_stale_personas(runtime) == []
    receiver.status = 204
    assert notify_stale_personas(runtime) == [stale]
    assert len(receiver.posts) == 1


def test_without_a_receiver_the_reminder_is_logged_and_marked(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    stale = add_persona(runtime, runtime.clock().date() - timedelta(days=60))

    with caplog.at_level("WARNING", logger="qualify.reviews"):
        assert notify_stale_personas(runtime) == [stale]

    assert "is due for review" in caplog.text
    with runtime.read_uow() as uow:
        assert uow.session.get_one(Persona, stale).review_notified_at is not None
        assert uow.session.query(OutboxAction).count() == 0


def test_an_owner_with_a_crm_user_gets_a_task_in_the_crm(runtime: Runtime) -> None:
    from adapters.sandbox.hubspot import HubSpotSandbox
    from service.jobs.worker import Worker
    from service.services.connections import add_connection

    sandbox = HubSpotSandbox(access_token="pat-review")
    sandbox.start()
    try:
        with runtime.uow() as uow:
            connection = add_connection(runtime, uow.session, {
                "name": "hs", "kind": "hubspot", "base_url": sandbox.base_url, "access_token": "pat-review",
                "client_secret": "s"})
            uow.commit()
            cid = connection.id
        stale = add_persona(runtime, runtime.clock().date() - timedelta(days=60), owner_connection_id=cid,
                            owner_crm_user_id="101")

        assert notify_stale_personas(runtime) == [stale]
        Worker(runtime).run_until_idle()

        [task] = sandbox.tasks_for_user("101")
        assert "time to review the persona" in task["properties"]["hs_task_subject"]
        assert f"/v1/personas/{stale}/review" in task["properties"]["hs_task_body"]
        assert notify_stale_personas(runtime) == []
        with runtime.read_uow() as uow:
            assert [a.status for a in uow.session.query(OutboxAction)] == ["done"]
    finally:
        sandbox.stop()
