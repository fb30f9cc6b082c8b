"""Group commit of webhook deliveries (service/services/intake_group.py) on SQLite files and PostgreSQL, with real
threads through receive_webhook: concurrent deliveries share transactions, each event is stored once with its
own request's id, and a batch that fails (before writing, or after committing with its answer lost) loses and
doubles nothing."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import structlog
from sqlalchemy import func, select

from service.models import InboundEvent, WebhookDelivery
from service.runtime import Runtime
from service.services import intake_driver
from tests.integration.test_intake_driver import add_hook, deliver

CALLERS = 16


def batch_writer(runtime: Runtime) -> tuple[str, Callable[..., Any]]:
    """The name of the driver's batch write for the runtime's backend, and the function."""
    name = "store_postgresql_batch" if intake_driver.backend_of(runtime) == "postgresql" else "store_sqlite_batch"
    return name, getattr(intake_driver, name)


def driver_error(runtime: Runtime) -> Exception:
    """An error of the runtime's driver, as a cut connection raises it."""
    if intake_driver.backend_of(runtime) == "postgresql":
        return psycopg.OperationalError("the connection was cut mid-batch")
    return sqlite3.OperationalError("disk I/O error")


def at_once(runtime: Runtime, hook: int) -> dict[int, dict[str, int]]:
    """CALLERS threads each delivering one event (event id = its number) at the same moment, each under a request
    id of its own; the answers by event id."""
    answers: dict[int, dict[str, int]] = {}
    start, clock = threading.Barrier(CALLERS), datetime.now(UTC)

    def one(event_id: int) -> None:
        structlog.contextvars.bind_contextvars(request_id=f"req-{event_id}")
        start.wait()
        answers[event_id] = deliver(runtime, hook, event_id=event_id, clock=clock)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, CALLERS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == CALLERS, "a delivery got no answer"
    return answers


def stored(runtime: Runtime, hook: int) -> tuple[Counter[str], dict[str, str | None], int]:
    """(events per delivery key, request id per key, delivery rows) of the connection."""
    with runtime.read_uow() as uow:
        rows = uow.session.execute(select(InboundEvent.delivery_key, InboundEvent.request_id)
                                   .where(InboundEvent.connection_id == hook)).all()
        deliveries = uow.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                        .where(WebhookDelivery.connection_id == hook))
    return Counter(key for key, _ in rows), dict(rows), int(deliveries or 0)


def hold_first_write(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold intake's first write (alone or a batch) a moment, so the other callers queue up behind it."""
    held: list[bool] = []
    names = ["store_postgresql_one", "store_postgresql_batch"] if intake_driver.backend_of(runtime) == "postgresql" \
        else ["store_sqlite_batch"]
    for name in names:
        real = getattr(intake_driver, name)

        def write(rt: Runtime, items: Any, real: Callable[..., Any] = real) -> Any:
            if not held:
                held.append(True)
                time.sleep(0.2)
            return real(rt, items)
        monkeypatch.setattr(intake_driver, name, write)


def test_concurrent_deliveries_share_transactions_and_each_is_stored_once_with_its_own_request_id(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    hold_first_write(runtime, monkeypatch)
    name, real = batch_writer(runtime)
    sizes: list[int] = []
    monkeypatch.setattr(intake_driver, name, lambda rt, items: sizes.append(len(items)) or real(rt, items))

    answers = at_once(runtime, hook)

    assert all(a == {"received": 1, "stored": 1, "duplicates": 0} for a in answers.values())
    counts, request_ids, deliveries = stored(runtime, hook)
    assert len(counts) == CALLERS and set(counts.values()) == {1} and deliveries == CALLERS
    # A batch is written by one thread, yet each event carries the id of the request that brought it.
    assert {key: request_ids[key] for key in counts} == {key: f"req-{event_id(key)}" for key in counts}
    assert max(sizes) > 1  # several deliveries went in one transaction


def event_id(key: str) -> int:
    """The HubSpot event id in a delivery key (portal:subscription:event:occurredAt)."""
    return int(key.split(":")[2])


def test_a_batch_failing_before_it_wrote_has_each_delivery_stored_on_its_own(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    hold_first_write(runtime, monkeypatch)
    name, real = batch_writer(runtime)
    failed: list[int] = []

    def failing(rt: Runtime, items: Sequence[intake_driver.Delivery]) -> Any:
        if not failed and len(items) > 1:
            failed.append(len(items))
            raise driver_error(rt)
        return real(rt, items)

    monkeypatch.setattr(intake_driver, name, failing)
    answers = at_once(runtime, hook)

    assert failed  # a batch of several did fail
    assert all(a == {"received": 1, "stored": 1, "duplicates": 0} for a in answers.values())
    counts, _, deliveries = stored(runtime, hook)
    assert len(counts) == CALLERS and set(counts.values()) == {1} and deliveries == CALLERS


def test_a_batch_whose_answer_was_lost_after_its_commit_doubles_nothing(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    hold_first_write(runtime, monkeypatch)
    name, real = batch_writer(runtime)
    lost: list[int] = []

    def committed_then_cut(rt: Runtime, items: Sequence[intake_driver.Delivery]) -> Any:
        if lost or len(items) == 1:
            return real(rt, items)
        real(rt, items)  # committed ...
        lost.append(len(items))
        raise driver_error(rt)  # ... and then the answer never came

    monkeypatch.setattr(intake_driver, name, committed_then_cut)
    answers = at_once(runtime, hook)

    assert lost  # a batch of several committed and lost its answer
    # Each is answered; those of the lost batch found their event stored already and say it was a duplicate.
    assert all(a["received"] == 1 and a["stored"] + a["duplicates"] == 1 for a in answers.values())
    assert sum(a["duplicates"] for a in answers.values()) == lost[0]
    counts, _, deliveries = stored(runtime, hook)
    assert len(counts) == CALLERS and set(counts.values()) == {1} and deliveries == CALLERS
