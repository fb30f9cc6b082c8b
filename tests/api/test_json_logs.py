"""QUALIFY_LOG_FORMAT=json: one JSON object per line (timestamp, level, logger, event, the bound request id, pid)
with every secret redacted, and one request id from the CRM's webhook to the revert Qualify sends back: intake
stores it on the event, the worker's lines for processing that event carry it, the outbox actions decided for
the event keep it, and the worker's lines for delivering them carry it too."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from adapters.sandbox.hubspot import HubSpotSandbox
from service.jobs.worker import Worker
from service.logs import configure_logging, prepare_handler, secret_patterns
from service.models import InboundEvent, OutboxAction
from service.runtime import Runtime
from tests.api.conftest import SANDBOX_SECRET, SANDBOX_TOKEN
from tests.api.test_metrics import blocked_move, gated_connection
from tests.api.test_webhooks_api import signed

SCRIPT = """
import logging
import structlog
from service import log_context
from service.logs import configure_logging
configure_logging("INFO", fmt="json")
log_context.bind(request_id="req-json-1", event_id=7)
logging.getLogger("qualify.test").info("key qk_0123abcd_secretsecretsecret, hook /v1/webhooks/3?secret=s3cr3t")
logging.getLogger("qualify.test").warning("calling %s", "https://portal.example/rest/7/code4warning/crm.deal.get")
logging.getLogger("qualify.test").info("with extras", extra={"url": "/v1/webhooks/3?token=extra-t0ken"})
structlog.get_logger("qualify.struct").info("structured", header="Bearer struct-t0ken", count=3)
try:
    raise RuntimeError("Bearer tok3n-in-a-traceback")
except RuntimeError:
    logging.getLogger("qualify.test").exception("failed")
log_context.clear()
logging.getLogger("qualify.test").info("no context")
logging.getLogger("httpx").info("HTTP Request: GET https://portal.example/rest/1/code4httpx/crm.deal.get")
"""
SECRETS = ("secretsecretsecret", "s3cr3t", "code4warning", "extra-t0ken", "struct-t0ken", "tok3n", "code4httpx")
REQUEST_ID = "req-from-the-crm-1"


def test_json_logs_are_one_object_a_line_with_the_bound_request_id_and_no_secret() -> None:
    stderr = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stderr

    lines = [json.loads(line) for line in stderr.splitlines()]
    assert [line["event"].split(",")[0] for line in lines] == [
        "key [redacted]", "calling https://portal.example/rest/[redacted]/crm.deal.get", "with extras",
        "structured", "failed", "no context"]
    for line in lines:
        assert {"timestamp", "level", "logger", "event", "pid"} <= set(line)
        assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert [line.get("request_id") for line in lines] == ["req-json-1"] * 5 + [None]
    assert lines[0]["event_id"] == 7 and lines[0]["level"] == "info" and lines[0]["logger"] == "qualify.test"
    assert lines[1]["level"] == "warning"
    assert lines[2]["url"] == "/v1/webhooks/3?token=[redacted]"
    assert (lines[3]["logger"], lines[3]["count"], lines[3]["header"]) == ("qualify.struct", 3, "Bearer [redacted]")
    assert lines[4]["level"] == "error" and "RuntimeError: Bearer [redacted]" in lines[4]["exception"]
    assert not [secret for secret in SECRETS if secret in stderr]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format 'xml'"):
        configure_logging("INFO", fmt="xml")


@contextmanager
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines every logger writes inside the block (the production handler, on a string)."""
    stream = io.StringIO()
    handler = prepare_handler(logging.StreamHandler(stream), "json", secret_patterns())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


@contextmanager
def debug_lines_of(name: str) -> Iterator[None]:
    """Inside the block the logger `name` writes its DEBUG lines too."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(level)


def test_the_webhooks_request_id_follows_its_event_and_outbox_actions_into_the_workers_log_lines(
        client: Any, admin_headers: dict[str, str], runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    cid = gated_connection(client, admin_headers, sandbox)
    deal, body = blocked_move(sandbox)

    with json_logs() as lines, debug_lines_of("qualify.metrics"):  # the per-delivery line is at DEBUG
        answer = client.post(f"/v1/webhooks/{cid}", data=body, headers={
            **signed(body, f"http://localhost/v1/webhooks/{cid}"), "X-Request-Id": REQUEST_ID})
        Worker(runtime).run_until_idle()

    assert answer.status_code == 200 and answer.headers["X-Request-Id"] == REQUEST_ID
    with runtime.read_uow() as uow:
        stored = uow.session.scalars(select(InboundEvent)).one()
        actions = list(uow.session.scalars(select(OutboxAction).order_by(OutboxAction.id)))
    assert stored.request_id == REQUEST_ID
    assert {a.kind for a in actions} == {"revert_stage", "create_task"}
    assert {a.status for a in actions} == {"done"} and {a.request_id for a in actions} == {REQUEST_ID}
    assert sandbox.deal(deal)["properties"]["dealstage"] == "appointmentscheduled"
    intake = [line for line in lines if line["event"].startswith(f"webhook for connection {cid}")]
    assert [line["request_id"] for line in intake] == [REQUEST_ID]
    processed = [line for line in lines if line["logger"] == "qualify.events"]
    assert processed and all((line["request_id"], line["event_id"]) == (REQUEST_ID, stored.id) for line in processed)
    assert any(line["event"].startswith(f"event {stored.id} done") for line in processed)
    for action in actions:
        delivered = [line for line in lines if line.get("action_id") == action.id]
        assert any(line["event"].startswith(f"action {action.id} ({action.kind}) done") for line in delivered)
        assert {line["request_id"] for line in delivered} == {REQUEST_ID}
    assert SANDBOX_TOKEN not in json.dumps(lines) and SANDBOX_SECRET not in json.dumps(lines)
    assert not [line for line in lines if "message" in line]  # the message is `event`, once
