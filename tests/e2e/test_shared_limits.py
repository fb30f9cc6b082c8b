"""Four worker processes calling one Bitrix24 portal share its leaky bucket (2 calls/s drained, capacity 50
less our headroom) through PostgreSQL, or Redis when QUALIFY_REDIS_URL is set: the portal never answers
QUERY_LIMIT_EXCEEDED (its 429) and at least 90 % of what it would accept is used. Each process in-process
would send four times the limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from service.config import Settings
from service.models import EventStatus, InboundEvent
from service.runtime import Runtime, build_runtime
from service.services.connections import create_connection
from tests.conftest import SKIP_PG, TEST_FERNET_KEY
from tests.e2e.conftest import wait_until
from tests.e2e.processes import Processes, pg_database, qualify_env
from tests.integration.test_limit_stores import REDIS_URL, SKIP_REDIS

pytestmark = [pytest.mark.processes, pytest.mark.skipif(SKIP_PG, reason="worker processes share PostgreSQL")]

WORKERS = 4
SECONDS = 10.0  # how long the workers run from their first call: the burst of 48, then 2 calls/s
EVENTS = 150  # more than the portal accepts in that time (48 + 2 x 10), so no worker ever runs out of work
PORTAL = (2.0, 50)  # the sandbox portal's drain per second and capacity


@pytest.fixture
def database() -> Iterator[Engine]:
    # One database per store: the events a case leaves queued (on purpose, see `left`) belong to a sandbox that
    # is gone, and workers of the next case would spend their time retrying them (claims go oldest first).
    with pg_database() as engine:
        yield engine


def _runtime(engine: Engine, tmp_path: Path) -> Runtime:
    settings = Settings(instance_path=str(tmp_path / "instance"), secret_key=TEST_FERNET_KEY,
                        allow_loopback_crm=True, database_url=engine.url.render_as_string(hide_password=False))
    return build_runtime(settings, engine=engine)


def _queue_deal_events(runtime: Runtime, connection_id: int, deals: list[str]) -> None:
    now = datetime.now(UTC)
    with runtime.uow() as uow:
        uow.session.add_all(InboundEvent(
            connection_id=connection_id, delivery_key=f"load:{deal}", object_id=deal, kind="property_change",
            occurred_at=now, payload={}, status=EventStatus.RECEIVED, attempts=0) for deal in deals)
        uow.commit()


@pytest.mark.parametrize("store", ["postgresql", *([] if SKIP_REDIS else ["redis"])])
def test_given_four_workers_on_one_bitrix24_portal_then_no_call_is_refused_and_90_percent_of_its_limit_is_used(
        database: Engine, tmp_path: Path, store: str) -> None:
    sandbox = Bitrix24Sandbox(leaky_bucket=PORTAL)
    sandbox.start()
    runtime = _runtime(database, tmp_path)
    processes = Processes(tmp_path)
    try:
        connection = create_connection(runtime, {
            "name": "portal", "kind": "bitrix24", "base_url": sandbox.incoming_webhook_url,
            "application_token": sandbox.settings.application_token, "account_id": sandbox.settings.member_id,
        }, "http://127.0.0.1")
        deals = [sandbox.ui_create_deal({"TITLE": f"Deal {n}", "CATEGORY_ID": 0, "STAGE_ID": "NEW"})
                 for n in range(EVENTS)]
        _queue_deal_events(runtime, connection["id"], deals)
        sandbox.calls.clear()
        env = qualify_env(database, tmp_path / "instance", worker_batch="1", log_level="WARNING",
                          **({"redis_url": REDIS_URL} if store == "redis" else {}))
        for n in range(WORKERS):
            processes.start(f"worker-{n}", env, "worker")
        # The window opens with the first call, however long the processes took to start on a busy machine.
        wait_until(lambda: sandbox.api_calls(), timeout=60, interval=0.05)
        time.sleep(SECONDS)
        ended = time.time()
        processes.stop_all()
        calls = [c for c in sandbox.api_calls() if c["at"] <= ended]
        with runtime.uow() as uow:
            left = uow.session.scalar(select(func.count()).select_from(InboundEvent).where(
                InboundEvent.status == EventStatus.RECEIVED))
    finally:
        processes.stop_all()
        sandbox.stop()
        runtime.dispose()

    assert calls, "the workers made no CRM call; their logs:\n" + "\n".join(
        f"{p.args[-1]} {p.pid}: {processes.log(p)[-2000:]}" for p in processes.started)
    refused = [c for c in calls if c["status"] in (429, 503)]  # Bitrix24's 503 QUERY_LIMIT_EXCEEDED
    assert not refused, f"{len(refused)} calls refused, e.g. {refused[:3]}"
    first = min(c["received_at"] for c in calls)
    # What the portal would have accepted from its first call on: its capacity at once, then its drain rate.
    most = PORTAL[1] + PORTAL[0] * (ended - first)
    used = len(calls) / most
    print(f"\n{store}: {len(calls)} calls in {ended - first:.1f} s, the portal accepts {most:.0f}: {used:.1%} "
          f"used, 0 refused; {left} events still queued")
    assert left, "the workers ran out of work: the measurement would understate the use"
    assert used >= 0.9
