"""Events without an id of their own (Bitrix24: event, deal and a ts in seconds) share a delivery key when one
deal changes twice in a second. The second arrives as a duplicate: it has the event read again only when the
deal was read before that second was over, so no change is lost and a replay costs no CRM call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.models import EventStatus, InboundEvent
from service.runtime import Runtime
from service.services.events import _finish
from service.services.intake import store_events
from tests.integration.test_storage import add_connection, event

T = datetime.fromtimestamp(1_700_000_000, UTC)


def stored(runtime: Runtime, connection_id: int) -> InboundEvent:
    """The one event stored for key "k", as it stands."""
    with runtime.read_uow() as uow:
        return uow.session.query(InboundEvent).filter_by(connection_id=connection_id, delivery_key="k").one()


def deliver(runtime: Runtime, connection_id: int, at: datetime) -> int:
    """The event "k" (it happened at T) delivered at `at`; how many events were new."""
    runtime.clock = lambda: at
    with runtime.uow() as uow:
        new = store_events(runtime, uow.session, connection_id, [event("k", at=0)], {}, b"[]")
        uow.commit()
    return new


def set_state(runtime: Runtime, connection_id: int, **values: object) -> None:
    with runtime.uow() as uow:
        row = uow.session.query(InboundEvent).filter_by(connection_id=connection_id, delivery_key="k").one()
        for name, value in values.items():
            setattr(row, name, value)
        uow.commit()


@pytest.mark.parametrize("read_after, read_again", [(0.4, True), (0.99, True), (1.0, False), (30.0, False)])
def test_a_duplicate_of_a_processed_event_has_it_read_again_only_if_it_was_read_within_its_second(
        runtime: Runtime, read_after: float, read_again: bool) -> None:
    cid = add_connection(runtime)
    deliver(runtime, cid, T)
    set_state(runtime, cid, status=EventStatus.DONE, started_at=T, processed_at=T + timedelta(seconds=read_after))

    new = deliver(runtime, cid, T + timedelta(seconds=read_after + 0.1))

    row = stored(runtime, cid)
    assert new == 0
    assert (row.status == EventStatus.RECEIVED) is read_again
    assert (row.processed_at is None) is read_again


def test_many_replays_after_the_second_is_over_never_queue_the_event_again(runtime: Runtime) -> None:
    cid = add_connection(runtime)
    deliver(runtime, cid, T)
    done_at = T + timedelta(seconds=2)
    set_state(runtime, cid, status=EventStatus.DONE, started_at=T, processed_at=done_at)

    for replay in range(50):
        deliver(runtime, cid, T + timedelta(seconds=3 + replay))

    row = stored(runtime, cid)
    assert (row.status, row.processed_at) == (EventStatus.DONE, done_at)


def test_a_duplicate_arriving_while_the_event_is_read_within_its_second_has_it_read_once_more(
        runtime: Runtime) -> None:
    cid = add_connection(runtime)
    deliver(runtime, cid, T)
    set_state(runtime, cid, status=EventStatus.PROCESSING, started_at=T + timedelta(milliseconds=200))
    deliver(runtime, cid, T + timedelta(milliseconds=600))

    with runtime.uow() as uow:
        row = uow.session.query(InboundEvent).filter_by(connection_id=cid, delivery_key="k").one()
        _finish(row, EventStatus.DONE, "allowed", runtime)
        uow.commit()

    again = stored(runtime, cid)
    assert again.status == EventStatus.RECEIVED and again.processed_at is None
