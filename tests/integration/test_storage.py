"""Unit of work, constraints and event storage on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from adapters.base import WebhookEvent
from service.models import Connection, Field, InboundEvent, OutboxAction, WebhookDelivery
from service.runtime import Runtime
from service.services.events import claim_events, replay_event
from service.services.intake import store_events
from service.services.outbox import claim_actions, claim_deliveries


def add_connection(runtime: Runtime) -> int:
    with runtime.uow() as uow:
        row = Connection(name="c", kind="hubspot", base_url="http://127.0.0.1:9",
                         credentials_encrypted=runtime.vault.encrypt({"access_token": "t", "client_secret": "s"}))
        uow.session.add(row)
        uow.commit()
        return row.id


def event(key: str, object_id: str = "1", at: int = 0) -> WebhookEvent:
    return WebhookEvent(delivery_key=key, object_id=object_id, kind="property_change",
                        occurred_at=datetime.fromtimestamp(1_700_000_000 + at, UTC), raw={"eventId": key})


def count(runtime: Runtime, model: type) -> int:
    with runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_unit_of_work_that_is_not_committed_rolls_back(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        uow.session.add(Field(key="industry", label="Industry", type="text", constraints={}))
        uow.session.flush()
    assert count(runtime, Field) == 0


def test_a_committed_unit_of_work_persists(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        uow.session.add(Field(key="industry", label="Industry", type="text", constraints={}))
        uow.commit()
    assert count(runtime, Field) == 1


def test_an_exception_inside_a_unit_of_work_leaves_nothing_behind(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.uow() as uow:
        uow.session.add(Field(key="industry", label="Industry", type="text", constraints={}))
        uow.session.flush()
        raise RuntimeError("boom")
    assert count(runtime, Field) == 0


def test_the_database_refuses_a_second_event_with_the_same_delivery_key(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    row = {"connection_id": cid, "delivery_key": "k", "object_id": "1", "kind": "x",
           "occurred_at": datetime.now(UTC), "payload": {}}
    with runtime.uow() as uow:
        uow.session.add(InboundEvent(**row))
        uow.commit()
    with pytest.raises(IntegrityError), runtime.uow() as uow:
        uow.session.add(InboundEvent(**row))
        uow.commit()


def test_storing_a_delivery_twice_keeps_one_event_and_one_raw_body(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    for _ in range(2):
        with runtime.uow() as uow:
            events = [event("a"), event("b"), event("a")]
            store_events(runtime, uow.session, cid, events, {"Content-Type": "x"}, b"[raw]")
            uow.commit()
    assert count(runtime, InboundEvent) == 2
    assert count(runtime, WebhookDelivery) == 1
    with runtime.uow() as uow:
        assert uow.session.scalars(select(WebhookDelivery.body)).one() == b"[raw]"


def test_events_are_claimed_once_and_oldest_first(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    with runtime.uow() as uow:
        store_events(runtime, uow.session, cid, [event("late", at=50), event("early", at=10)], {}, b"[]")
        uow.commit()
    first = claim_events(runtime, 1)
    second = claim_events(runtime, 10)
    assert claim_events(runtime, 10) == []
    with runtime.uow() as uow:
        keys = [uow.session.get_one(InboundEvent, i).delivery_key for i in first + second]
    assert keys == ["early", "late"]


def test_a_failed_event_can_be_replayed_but_not_one_in_flight(runtime: Runtime) -> None:
    from service.errors import ConflictError

    cid = add_connection(runtime)
    with runtime.uow() as uow:
        store_events(runtime, uow.session, cid, [event("a")], {}, b"[]")
        uow.commit()
    (event_id,) = claim_events(runtime, 1)
    with pytest.raises(ConflictError):
        replay_event(runtime, event_id)
    with runtime.uow() as uow:
        uow.session.get_one(InboundEvent, event_id).status = "failed"
        uow.commit()
    replay_event(runtime, event_id)
    assert claim_events(runtime, 1) == [event_id]


def test_outbox_actions_are_claimed_only_when_due(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    now = runtime.clock()
    with runtime.uow() as uow:
        uow.session.add(OutboxAction(connection_id=cid, kind="create_task", payload={}, idempotency_key="due",
                                     next_attempt_at=now))
        uow.session.add(OutboxAction(connection_id=cid, kind="create_task", payload={}, idempotency_key="later",
                                     next_attempt_at=now.replace(year=now.year + 1)))
        uow.commit()
    claimed = claim_actions(runtime, 10)
    assert len(claimed) == 1
    assert claim_actions(runtime, 10) == []


def test_claimed_deliveries_come_with_their_connection_as_claimed_and_are_taken_once(runtime: Runtime) -> None:
    first, second = add_connection(runtime), add_connection(runtime)
    now = runtime.clock()
    with runtime.uow() as uow:
        for i, cid in enumerate([first, second, first]):
            uow.session.add(OutboxAction(connection_id=cid, kind="create_task", payload={"n": i},
                                         idempotency_key=f"k{i}", next_attempt_at=now, attempts=i))
        uow.commit()
    claimed = claim_deliveries(runtime, 10)
    assert [(action.payload["n"], action.attempts, connection.id) for action, connection in claimed] == [
        (0, 1, first), (1, 2, second), (2, 3, first)]
    assert {action.status for action, _ in claimed} == {"in_flight"}
    assert claimed[0][1].credentials_encrypted  # what the adapter is built from, read with the claim
    assert claim_deliveries(runtime, 10) == [] and claim_actions(runtime, 10) == []
