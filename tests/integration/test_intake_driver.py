"""Intake's kept driver connections (service/services/intake_driver.py), on SQLite files and PostgreSQL: rows
stored exactly as SQLAlchemy's path stores them, duplicates and the connection guard, a broken connection
answered once with StorageError and replaced, connections reused across threads, and Runtime.dispose closing
them."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import structlog
from sqlalchemy import select, text

from adapters.base import WebhookEvent
from adapters.hubspot_webhooks import sign_v3
from service.db import make_engine
from service.errors import StorageError
from service.models import Connection, EventStatus, InboundEvent, WebhookDelivery
from service.runtime import Runtime
from service.services import connections, intake_driver
from service.services.intake import _sqlite_writer, receive_webhook
from service.services.intake_store import ONE_STATEMENT, one_statement_params, store
from tests.conftest import BACKENDS

# Tests of one backend's own failures run on that backend only (the engine fixture's parameter, chosen).
ONLY_POSTGRESQL = pytest.mark.parametrize("engine", [b for b in BACKENDS if b == "postgresql"], indirect=True)
ONLY_SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
SECRET = "driver-test-client-secret"
PORTAL = 62515
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
HEADERS = {"Content-Type": "application/json", "X-Note": "Zoë ✓"}


def add_hook(runtime: Runtime, name: str = "hooks") -> int:
    """A HubSpot connection receiving webhooks; its id."""
    with runtime.uow() as uow:
        row = connections.add_connection(runtime, uow.session, {
            "name": name, "kind": "hubspot", "base_url": "http://127.0.0.1:9", "access_token": "pat-driver-token",
            "client_secret": SECRET, "account_id": str(PORTAL)})
        uow.commit()
        return row.id


def guard_of(runtime: Runtime, connection_id: int) -> dict[str, Any]:
    with runtime.read_uow() as uow:
        row = uow.session.get_one(Connection, connection_id)
        return {"config_version": row.config_version, "created_at": row.created_at}


def events(prefix: str) -> list[WebhookEvent]:
    """Three events, the last repeating the first's key, with microseconds, unicode and nesting in the payload."""
    first = WebhookEvent(delivery_key=f"{prefix}-1", object_id="1001", kind="property_change",
                         occurred_at=datetime(2024, 5, 6, 7, 8, 1, 654321, tzinfo=UTC), new_stage="won",
                         old_stage="open", new_pipeline="p2", old_pipeline="p1", change_source="CRM_UI",
                         source_id="userId:7", source="ui",
                         raw={"eventId": 1, "name": "Zoë ✓", "nested": [1, {"a": None}]})
    second = WebhookEvent(delivery_key=f"{prefix}-2", object_id="1002", kind="creation",
                          occurred_at=datetime(2024, 5, 6, 9, 8, 1, tzinfo=timezone(timedelta(hours=2))),
                          raw={"eventId": 2})
    return [first, second, first]


def write(runtime: Runtime, connection_id: int, batch: list[WebhookEvent], guard: dict[str, Any],
          body: bytes = b"[raw \x00 body]") -> tuple[int, Any] | None:
    """The delivery written through the driver, as intake._write does."""
    if intake_driver.backend(runtime.engine) == "postgresql":
        return intake_driver.store_postgresql(runtime, connection_id, batch, HEADERS, body, NOW, guard)
    with _sqlite_writer(runtime):
        return intake_driver.store_sqlite(runtime, connection_id, batch, HEADERS, body, NOW, guard)


def raw_rows(runtime: Runtime, table: str, connection_id: int) -> list[dict[str, Any]]:
    """The rows as the database holds them (SQLite: the text SQLAlchemy wrote), without the ids."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} WHERE connection_id = :c ORDER BY id"),
                            {"c": connection_id}).mappings().all()
    return [{k: v for k, v in row.items() if k not in ("id", "connection_id", "delivery_id")} for row in rows]


def orm_rows(runtime: Runtime, connection_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(deliveries, events) of a connection read back through the ORM, without the ids."""
    def plain(obj: Any) -> dict[str, Any]:
        return {c.key: getattr(obj, c.key) for c in obj.__table__.columns
                if c.key not in ("id", "connection_id", "delivery_id")}
    with runtime.read_uow() as uow:
        deliveries = uow.session.scalars(select(WebhookDelivery).filter_by(connection_id=connection_id)).all()
        stored = uow.session.scalars(select(InboundEvent).filter_by(connection_id=connection_id)
                                     .order_by(InboundEvent.id)).all()
        return [plain(d) for d in deliveries], [plain(e) for e in stored]


@pytest.fixture
def request_id() -> Iterator[str]:
    structlog.contextvars.bind_contextvars(request_id="req-driver-1")
    yield "req-driver-1"
    structlog.contextvars.unbind_contextvars("request_id")


def test_rows_written_by_the_driver_equal_those_of_sqlalchemys_path(runtime: Runtime, request_id: str) -> None:
    driven, reference = add_hook(runtime, "driven"), add_hook(runtime, "reference")

    assert write(runtime, driven, events("k"), guard_of(runtime, driven)) == (
        (2, []) if runtime.engine.dialect.name == "postgresql" else (2, 0))
    # What intake wrote before the driver: ONE_STATEMENT through SQLAlchemy on PostgreSQL, `store` on SQLite.
    with runtime.engine.connect() as conn:
        if runtime.engine.dialect.name == "postgresql":
            params, _ = one_statement_params(reference, events("k"), HEADERS, b"[raw \x00 body]", NOW,
                                             guard_of(runtime, reference))
            assert conn.execute(ONE_STATEMENT, params).one().current
        else:
            assert store(conn, reference, events("k"), HEADERS, b"[raw \x00 body]", NOW,
                         guard_of(runtime, reference)) == (2, [])
        conn.commit()

    for table in ("webhook_deliveries", "inbound_events"):
        assert raw_rows(runtime, table, driven) == raw_rows(runtime, table, reference)
    assert orm_rows(runtime, driven) == orm_rows(runtime, reference)
    deliveries, stored = orm_rows(runtime, driven)
    assert deliveries == [{"received_at": NOW, "body": b"[raw \x00 body]", "headers": HEADERS, "event_count": 3}]
    assert [e["delivery_key"] for e in stored] == ["k-1", "k-2"]
    assert stored[0]["payload"] == {"eventId": 1, "name": "Zoë ✓", "nested": [1, {"a": None}]}
    assert stored[0]["occurred_at"] == datetime(2024, 5, 6, 7, 8, 1, 654321, tzinfo=UTC)
    assert {e["status"] for e in stored} == {EventStatus.RECEIVED}
    assert {e["request_id"] for e in stored} == {request_id}
    assert {e["received_at"] for e in stored} == {NOW}


def test_a_repeated_delivery_is_acknowledged_as_duplicates_and_not_kept(runtime: Runtime) -> None:
    hook = add_hook(runtime)
    guard = guard_of(runtime, hook)
    write(runtime, hook, events("k"), guard)

    again = write(runtime, hook, events("k"), guard)

    assert again is not None and again[0] == 0
    deliveries, stored = orm_rows(runtime, hook)
    assert len(deliveries) == 1 and len(stored) == 2


def test_given_the_connection_changed_then_nothing_is_written(runtime: Runtime) -> None:
    hook = add_hook(runtime)
    guard = guard_of(runtime, hook)

    assert write(runtime, hook, events("k"), {**guard, "config_version": guard["config_version"] + 1}) is None

    assert orm_rows(runtime, hook) == ([], [])
    assert write(runtime, hook, events("k"), guard) is not None  # the connection is still usable


def test_a_repeat_of_an_event_read_within_its_second_has_it_read_again(runtime: Runtime) -> None:
    hook = add_hook(runtime)
    deliver(runtime, hook, event_id=5, at=NOW)
    with runtime.uow() as uow:
        row = uow.session.scalars(select(InboundEvent).filter_by(connection_id=hook)).one()
        row.status, row.started_at, row.processed_at = EventStatus.DONE, NOW, NOW + timedelta(seconds=0.4)
        uow.commit()

    answer = deliver(runtime, hook, event_id=5, at=NOW, clock=NOW + timedelta(seconds=0.5))

    assert answer == {"received": 1, "stored": 0, "duplicates": 1}
    with runtime.read_uow() as uow:
        row = uow.session.scalars(select(InboundEvent).filter_by(connection_id=hook)).one()
        assert (row.status, row.processed_at, row.available_at) == (
            EventStatus.RECEIVED, None, NOW + timedelta(seconds=0.5))


def deliver(runtime: Runtime, hook: int, *, event_id: int, at: datetime | None = None,
            clock: datetime | None = None) -> dict[str, int]:
    """A signed HubSpot delivery of one event through receive_webhook (the clock at `clock`, else now)."""
    when = clock or datetime.now(UTC)
    runtime.clock = lambda: when
    occurred = int((at or when).timestamp() * 1000)
    body = json.dumps([{"eventId": event_id, "subscriptionId": 7, "portalId": PORTAL, "appId": 1,
                        "occurredAt": occurred, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
                        "objectId": 1001, "propertyName": "dealstage", "propertyValue": "won",
                        "changeSource": "CRM_UI"}]).encode()
    url, ts = f"http://localhost/v1/webhooks/{hook}", str(int(when.timestamp() * 1000))
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
               "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", url, body, ts)}
    return receive_webhook(runtime, hook, method="POST", url=url, headers=headers, body=body)


def idle(runtime: Runtime) -> list[Any]:
    """The process's idle intake connections."""
    return intake_driver._kept(runtime).idle


def counting_opens(runtime: Runtime) -> list[Any]:
    """Every connection intake opens from now on."""
    kept, opened = intake_driver._kept(runtime), []
    open_ = kept.open
    kept.open = lambda: opened.append(open_()) or opened[-1]
    return opened


def test_one_connection_serves_deliveries_one_after_another_in_any_thread(runtime: Runtime) -> None:
    """A server with a thread per request (werkzeug's, service/harness.py) reuses it as gunicorn's threads do."""
    hook = add_hook(runtime)
    opened = counting_opens(runtime)
    deliver(runtime, hook, event_id=1)
    for event_id in range(2, 6):
        thread = threading.Thread(target=deliver, args=(runtime, hook), kwargs={"event_id": event_id})
        thread.start()
        thread.join()

    assert len(opened) == 1 and idle(runtime) == opened
    assert len(orm_rows(runtime, hook)[1]) == 5


def test_overlapping_deliveries_take_a_connection_each_and_the_idle_ones_are_capped(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    opened = counting_opens(runtime)
    monkeypatch.setattr(intake_driver, "IDLE_KEPT", 1)
    with intake_driver._kept(runtime).connection() as busy:  # another delivery in flight
        assert len(opened) == 1
        deliver(runtime, hook, event_id=1)
        assert len(opened) == 2 and idle(runtime) == [opened[1]]

    assert idle(runtime) == [opened[1]] and is_closed(busy)  # over the cap: closed when given back
    assert len(orm_rows(runtime, hook)[1]) == 1


@ONLY_POSTGRESQL
def test_given_postgresql_cut_the_kept_connections_then_the_delivery_is_stored_on_a_new_one(
        runtime: Runtime) -> None:
    hook = add_hook(runtime)
    with intake_driver._kept(runtime).connection() as other:  # two kept connections, both then cut
        deliver(runtime, hook, event_id=1)
    cut = list(idle(runtime))
    assert len(cut) == 2 and other in cut
    for conn in cut:
        terminate(runtime, conn.info.backend_pid)

    assert deliver(runtime, hook, event_id=2) == {"received": 1, "stored": 1, "duplicates": 0}
    assert all(is_closed(conn) for conn in cut)
    assert len(idle(runtime)) == 1 and idle(runtime)[0] not in cut
    assert len(orm_rows(runtime, hook)[1]) == 2


@ONLY_POSTGRESQL
def test_given_postgresql_down_then_the_delivery_gets_a_storage_error_and_nothing_is_kept(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    deliver(runtime, hook, event_id=1)
    [kept_one] = idle(runtime)
    terminate(runtime, kept_one.info.backend_pid)
    down = psycopg.OperationalError("connection refused")  # as a new connection to a stopped server fails

    def refuse() -> Any:
        raise down
    monkeypatch.setattr(intake_driver._kept(runtime), "open", refuse)

    with pytest.raises(StorageError) as info:
        deliver(runtime, hook, event_id=2)
    assert info.value.__cause__ is down and idle(runtime) == [] and is_closed(kept_one)
    assert len(orm_rows(runtime, hook)[1]) == 1


@ONLY_SQLITE
def test_given_sqlite_locked_past_the_busy_timeout_then_one_delivery_gets_a_storage_error_and_the_next_is_stored(
        runtime: Runtime) -> None:
    hook = add_hook(runtime)
    deliver(runtime, hook, event_id=1)
    [broken] = idle(runtime)
    broken.execute("PRAGMA busy_timeout=50")  # another connection holds the write lock past it
    locker = sqlite3.connect(runtime.engine.url.database or "", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError):
            deliver(runtime, hook, event_id=2)
    finally:
        locker.execute("ROLLBACK")
        locker.close()

    assert idle(runtime) == [] and is_closed(broken)
    assert deliver(runtime, hook, event_id=2) == {"received": 1, "stored": 1, "duplicates": 0}
    assert len(idle(runtime)) == 1 and idle(runtime)[0] is not broken
    assert len(orm_rows(runtime, hook)[1]) == 2


def terminate(runtime: Runtime, pid: int) -> None:
    """End a PostgreSQL session from another connection and wait until it is gone."""
    with runtime.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    deadline = time.monotonic() + 5
    while not _terminated(runtime, pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _terminated(runtime: Runtime, pid: int) -> bool:
    with runtime.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}) == 0


def test_dispose_closes_the_kept_connections_and_a_later_delivery_opens_another(runtime: Runtime) -> None:
    hook = add_hook(runtime)
    deliver(runtime, hook, event_id=1)
    with intake_driver._kept(runtime).connection() as in_use:  # a delivery in flight holds the first
        deliver(runtime, hook, event_id=2)
        [idle_one] = idle(runtime)
        runtime.dispose()
        assert is_closed(idle_one) and not is_closed(in_use)
    assert is_closed(in_use) and idle(runtime) == []  # closed when given back after the dispose

    assert deliver(runtime, hook, event_id=3)["stored"] == 1
    assert len(idle(runtime)) == 1 and idle(runtime)[0] not in (idle_one, in_use)


def is_closed(conn: Any) -> bool:
    if isinstance(conn, psycopg.Connection):
        return conn.closed
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_forked_process_opens_its_own_and_leaves_its_parents_open(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = add_hook(runtime)
    deliver(runtime, hook, event_id=1)
    [parents] = idle(runtime)
    monkeypatch.setattr(intake_driver, "os", SimpleNamespace(getpid=lambda: -1))  # as seen in a forked child

    deliver(runtime, hook, event_id=2)
    [childs] = idle(runtime)
    intake_driver._kept(runtime).close()

    assert childs is not parents and is_closed(childs)
    assert not is_closed(parents)  # the child never closes its parent's
    monkeypatch.undo()
    parents.close()


def test_in_memory_sqlite_keeps_sqlalchemys_path() -> None:
    engine = make_engine("sqlite://")
    try:
        assert intake_driver.backend(engine) is None
    finally:
        engine.dispose()
