"""DELETE /v1/connections/{id}: by default the connection is deactivated and its audit kept (its webhooks get 404,
it is no longer synced, its work not yet started is dropped); ?purge=true deletes it with its data. Ids are never
reused, so an old webhook URL never reaches another CRM account (SQLite AUTOINCREMENT, PostgreSQL sequences)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from service.models import (
    ActionStatus,
    Connection,
    EventStatus,
    InboundEvent,
    OutboxAction,
    Record,
    RunStatus,
    SyncRun,
    Transition,
)
from service.runtime import Runtime
from service.services.sync_runs import queue_due_syncs
from tests.api.conftest import SANDBOX_SECRET, assert_problem, error_paths
from tests.api.test_webhooks_api import PORTAL, deliver, event

HOOKS = {"name": "Hooks", "kind": "hubspot", "access_token": "pat-unused", "client_secret": SANDBOX_SECRET,
         "account_id": str(PORTAL)}


def _connect(client: Any, headers: dict[str, str]) -> int:
    response = client.post("/v1/connections", json=HOOKS, headers=headers)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def _work_and_audit(runtime: Runtime, cid: int) -> None:
    """A transition (the audit), a processed event, an event and a CRM action waiting, a queued sync."""
    now = datetime.now(UTC)
    with runtime.uow() as uow:
        s = uow.session
        record = Record(connection_id=cid, external_id="1")
        s.add(record)
        s.flush()
        s.add(Transition(connection_id=cid, record_id=record.id, to_stage="s", occurred_at=now, source="webhook",
                         direction="forward", decision="blocked"))
        for key, status in (("done", EventStatus.DONE), ("waiting", EventStatus.RECEIVED)):
            s.add(InboundEvent(connection_id=cid, delivery_key=key, object_id="1", kind="property_change",
                               occurred_at=now, payload={}, status=status))
        s.add(OutboxAction(connection_id=cid, record_id=record.id, kind="revert_stage", payload={},
                           idempotency_key=f"revert:{cid}", status=ActionStatus.PENDING))
        s.add(SyncRun(connection_id=cid, status=RunStatus.QUEUED))
        uow.commit()


def _count(runtime: Runtime, model: Any, cid: int, **where: Any) -> int:
    with runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).filter_by(connection_id=cid, **where))
                   or 0)


def test_given_a_connection_when_deleted_then_it_is_deactivated_with_its_audit_kept_and_its_work_dropped(
        client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    cid = _connect(client, admin_headers)
    _work_and_audit(runtime, cid)

    assert client.delete(f"/v1/connections/{cid}", headers=admin_headers).status_code == 204

    shown = client.get(f"/v1/connections/{cid}", headers=admin_headers)
    assert shown.status_code == 200 and shown.get_json()["active"] is False
    assert client.get("/v1/connections", headers=admin_headers).get_json()["total"] == 1
    assert_problem(deliver(client, cid, json.dumps([event(1)]).encode()), 404)
    assert (_count(runtime, Transition, cid), _count(runtime, Record, cid)) == (1, 1)
    assert _count(runtime, InboundEvent, cid, status=EventStatus.DONE) == 1
    assert _count(runtime, InboundEvent, cid, status=EventStatus.IGNORED) == 1  # the one waiting, with the reason
    assert _count(runtime, OutboxAction, cid, status=ActionStatus.FAILED) == 1
    assert _count(runtime, SyncRun, cid, status=RunStatus.FAILED) == 1
    assert queue_due_syncs(runtime) == []  # never synced again
    assert_problem(client.post(f"/v1/connections/{cid}/sync", json={}, headers=admin_headers), 409,
                   detail_contains="deactivated")  # not by hand either
    with runtime.uow() as uow:
        assert uow.session.scalars(select(InboundEvent.error).where(
            InboundEvent.connection_id == cid, InboundEvent.status == EventStatus.IGNORED)).one() == \
            "the connection was deactivated"
    assert client.delete(f"/v1/connections/{cid}", headers=admin_headers).status_code == 204  # again: harmless


def test_given_a_deactivated_connection_when_activated_again_then_its_webhooks_are_verified_again(
        client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    cid = _connect(client, admin_headers)
    body = json.dumps([event(1)]).encode()
    assert client.delete(f"/v1/connections/{cid}", headers=admin_headers).status_code == 204
    assert_problem(deliver(client, cid, body), 404)

    assert client.patch(f"/v1/connections/{cid}", json={"active": True}, headers=admin_headers).status_code == 200

    assert deliver(client, cid, body).status_code == 200
    assert queue_due_syncs(runtime) != []


def test_given_purge_then_the_connection_and_everything_stored_for_it_are_gone(
        client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    cid = _connect(client, admin_headers)
    _work_and_audit(runtime, cid)

    assert client.delete(f"/v1/connections/{cid}?purge=true", headers=admin_headers).status_code == 204

    assert_problem(client.get(f"/v1/connections/{cid}", headers=admin_headers), 404)
    assert_problem(client.delete(f"/v1/connections/{cid}?purge=true", headers=admin_headers), 404)
    assert [_count(runtime, model, cid) for model in (Record, Transition, InboundEvent, OutboxAction, SyncRun)] == \
        [0, 0, 0, 0, 0]


def test_given_a_purged_connection_then_a_new_one_never_gets_its_id_and_the_old_webhook_url_stays_dead(
        client: Any, admin_headers: dict[str, str], runtime: Runtime) -> None:
    first = _connect(client, admin_headers)
    last = _connect(client, admin_headers)  # the highest id: SQLite without AUTOINCREMENT would give it out again
    assert client.delete(f"/v1/connections/{last}?purge=true", headers=admin_headers).status_code == 204

    new = _connect(client, admin_headers)

    assert new > last > first
    assert_problem(deliver(client, last, json.dumps([event(1)]).encode()), 404)
    with runtime.uow() as uow:
        assert set(uow.session.scalars(select(Connection.id))) == {first, new}


def test_given_a_malformed_purge_flag_then_422_and_nothing_changes(
        client: Any, admin_headers: dict[str, str]) -> None:
    cid = _connect(client, admin_headers)

    problem = assert_problem(client.delete(f"/v1/connections/{cid}?purge=maybe", headers=admin_headers), 422)

    assert error_paths(problem) == {"query.purge"}
    assert client.get(f"/v1/connections/{cid}", headers=admin_headers).get_json()["active"] is True


def test_given_a_manager_key_when_deleting_then_403(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    cid = _connect(client, admin_headers)

    assert_problem(client.delete(f"/v1/connections/{cid}?purge=true", headers=manager_headers), 403)
