"""`qualify serve` with two gunicorn processes on PostgreSQL: /metrics, answered by either process, sums what
both counted (prometheus-client's multiprocess mode), so the counts equal what the test sent whichever process
took each request; the JSON access log names the process, the path (never the query) and the request id.
`qualify worker` and `qualify scheduler` serve their own metrics on QUALIFY_METRICS_PORT."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from service.config import Settings
from service.models import WorkerHeartbeat
from service.runtime import build_runtime
from service.services.keys import create_key
from tests.api.test_webhooks_api import PORTAL, event, signed
from tests.conftest import SKIP_PG, TEST_FERNET_KEY
from tests.e2e.processes import Processes, pg_database, qualify_env
from tests.e2e.test_served_http import free_port

pytestmark = [pytest.mark.processes, pytest.mark.skipif(SKIP_PG, reason="the web processes share PostgreSQL")]

SECRET = "multiprocess-client-secret"
MAX_ROUNDS = 30  # rounds of requests until both processes have answered some
COUNTED: dict[str, dict[str, str]] = {
    "qualify_webhooks_received_total": {}, "qualify_webhook_events_total": {"crm": "hubspot", "result": "stored"},
    "qualify_webhooks_rejected_total": {"status": "401", "reason": "bad_signature"}, "qualify_events_backlog": {}}


@dataclass
class Served:
    """Two gunicorn processes on one port, a HubSpot connection, and the output of the server."""

    base: str
    connection_id: int
    processes: Processes
    server: Any

    def access_lines(self) -> list[dict[str, Any]]:
        """The JSON access-log lines written so far."""
        lines = [json.loads(line) for line in self.processes.log(self.server).splitlines() if line.startswith("{")]
        return [line for line in lines if "http" in line]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("multiprocess")
    with pg_database() as engine:
        url = engine.url.render_as_string(hide_password=False)
        runtime = build_runtime(Settings(instance_path=str(tmp_path / "instance"), secret_key=TEST_FERNET_KEY,
                                         database_url=url), engine=engine)
        key = create_key(runtime, "admin", "admin")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = qualify_env(engine, tmp_path / "instance", embedded_worker="0", public_url=base, log_format="json")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        processes = Processes(tmp_path)
        server = processes.start("serve", env, "serve", "--port", str(port), "--workers", "2")
        try:
            _wait_until_served(base, processes, server)
            created = httpx.post(f"{base}/v1/connections", headers={"Authorization": f"Bearer {key}"}, json={
                "name": "Two processes", "kind": "hubspot", "access_token": "pat-unused", "client_secret": SECRET,
                "account_id": str(PORTAL)})
            assert created.status_code == 201, created.text
            yield Served(base, int(created.json()["id"]), processes, server)
        finally:
            processes.stop_all()


def _wait_until_served(base: str, processes: Processes, server: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"qualify serve did not start: {processes.log(server)}")


def totals(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    page = httpx.get(f"{base}/metrics")  # a new connection: any of the processes answers
    assert page.status_code == 200, page.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(page.text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_given_requests_spread_over_two_processes_then_metrics_counts_them_all(served: Served) -> None:
    hook = f"{served.base}/v1/webhooks/{served.connection_id}"
    before = totals(served.base)
    sent = {"accepted": 0, "bad_signature": 0, "unknown_connection": 0}
    for round_ in range(MAX_ROUNDS):
        # Each request on a new connection, so the kernel hands each to whichever process accepts first.
        body = json.dumps([event(round_ + 1, object_id=5000 + round_)]).encode()
        assert httpx.post(hook, content=body, headers=signed(body, hook, secret=SECRET)).status_code == 200
        sent["accepted"] += 1
        forged = httpx.post(hook, content=body, headers=signed(body, hook, secret="not-the-secret"))
        assert forged.status_code == 401
        sent["bad_signature"] += 1
        assert httpx.post(f"{served.base}/v1/webhooks/999999", content=b"[]").status_code == 404
        sent["unknown_connection"] += 1
        pids = {line["pid"] for line in served.access_lines() if line["http"]["path"].startswith("/v1/webhooks/")}
        if len(pids) >= 2 and round_ >= 4:
            break
    assert len(pids) == 2, "every request went to one process"

    for _ in range(4):  # whichever process answers the scrape, the sums are the same
        after = totals(served.base)
        counted = {name: value(after, name, **labels) - value(before, name, **labels)
                   for name, labels in COUNTED.items()}
        assert counted == {
            "qualify_webhooks_received_total": sent["accepted"],
            "qualify_webhook_events_total": sent["accepted"],
            "qualify_webhooks_rejected_total": sent["bad_signature"],
            "qualify_events_backlog": sent["accepted"],  # a gauge read from the database
        }
        unknown = {"status": "404", "reason": "unknown_connection"}
        assert value(after, "qualify_webhooks_rejected_total", **unknown) - \
            value(before, "qualify_webhooks_rejected_total", **unknown) == sent["unknown_connection"]


def test_the_json_access_log_carries_the_request_id_the_path_and_never_the_query(served: Served) -> None:
    answer = httpx.post(f"{served.base}/v1/webhooks/424242?secret=hunter2-in-the-query", content=b"[]",
                        headers={"X-Request-Id": "mp-access-1"})
    assert answer.headers["X-Request-Id"] == "mp-access-1"

    deadline = time.monotonic() + 5
    while not (lines := [line for line in served.access_lines() if line.get("request_id") == "mp-access-1"]):
        assert time.monotonic() < deadline, served.processes.log(served.server)
        time.sleep(0.05)
    line = lines[0]
    assert (line["http"]["method"], line["http"]["path"], line["http"]["status"]) == ("POST", "/v1/webhooks/424242",
                                                                                      404)
    assert {"timestamp", "level", "logger", "event", "pid"} <= set(line)
    assert "hunter2" not in served.processes.log(served.server)


def test_the_worker_and_the_scheduler_serve_their_own_metrics_on_their_port(tmp_path_factory: pytest.TempPathFactory
                                                                             ) -> None:
    tmp_path = tmp_path_factory.mktemp("roles")
    processes = Processes(tmp_path)
    with pg_database() as engine:
        try:
            ports = {}
            for role in ("worker", "scheduler"):
                ports[role] = free_port()
                env = qualify_env(engine, tmp_path / "instance", metrics_port=str(ports[role]))
                env.pop("PROMETHEUS_MULTIPROC_DIR", None)
                processes.start(role, env, role)
            pages = {role: _wait_for_page(f"http://127.0.0.1:{port}/metrics") for role, port in ports.items()}
            beats = _wait_for_heartbeats(engine)
        finally:
            processes.stop_all()

    assert "# TYPE qualify_events_total counter" in pages["worker"]
    assert "# TYPE qualify_crm_calls_total counter" in pages["worker"]
    assert "# TYPE qualify_sync_runs_total counter" in pages["scheduler"]
    assert beats == 1  # the worker's heartbeat, which /readyz reads


def _wait_for_page(url: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1).raise_for_status().text
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing served on {url}")


def _wait_for_heartbeats(engine: Engine) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            beats = int(conn.execute(select(func.count()).select_from(WorkerHeartbeat)).scalar_one())
        if beats:
            return beats
        time.sleep(0.1)
    return 0
