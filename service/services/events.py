"""Processing stored inbound events: fetch the deal, then observe it (detect the move, decide, queue actions),
then store its buyer and its purchase (crm_customers).

An event is stored by intake as `received`, claimed by a worker (`processing`), and ends `done`, `ignored`
(nothing to act on), or `failed` with its error kept for a replay; a CRM failure worth retrying puts it back
to `received` with a later `available_at`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from adapters.base import CustomerSnapshot, DealSnapshot
from adapters.errors import CRMError, CRMNotFound, CRMTransientError
from service import log_context, metrics
from service.errors import ConflictError
from service.faults import crash_point
from service.models import Connection, EventStatus, InboundEvent
from service.runtime import Runtime
from service.services.claims import claim
from service.services.common import error_text, get_or_404, row_view
from service.services.crm_customers import read_buyer, store_buyer
from service.services.deals import MappedField, customer_fields, find_record, mapped_fields
from service.services.moves import Observation, observe

log = logging.getLogger("qualify.events")

DEAL_KINDS = frozenset({"property_change", "creation", "restore", "merge"})
RETRY_DELAYS = (1, 5, 30, 120, 600)
MAX_ATTEMPTS = 6


def claim_events(runtime: Runtime, limit: int) -> list[int]:
    """Mark up to `limit` ready events (or ones a crashed worker left `processing`) as ours, oldest first."""
    now = runtime.clock()
    stale = now - timedelta(seconds=runtime.settings.event_stale_seconds)
    ready = (
        select(InboundEvent)
        .where(or_(
            (InboundEvent.status == EventStatus.RECEIVED)
            & (or_(InboundEvent.available_at.is_(None), InboundEvent.available_at <= now)),
            (InboundEvent.status == EventStatus.PROCESSING) & (InboundEvent.started_at < stale),
        ))
        .order_by(InboundEvent.occurred_at, InboundEvent.id)
    )

    def take(event: InboundEvent) -> None:
        event.status, event.started_at, event.attempts = EventStatus.PROCESSING, now, event.attempts + 1

    return claim(runtime, ready, limit, take)


def replay_event(runtime: Runtime, event_id: int) -> dict[str, Any]:
    """Queue a failed or ignored event to be processed again and wake the worker; NotFoundError, or
    ConflictError while it is in flight."""
    now = runtime.clock()
    with runtime.uow() as uow:
        event = get_or_404(uow.session, InboundEvent, event_id, "Event")
        if event.status in (EventStatus.RECEIVED, EventStatus.PROCESSING):
            raise ConflictError(f"Event {event_id} is {event.status}; it will be processed without a replay.")
        event.status, event.error, event.available_at, event.processed_at = EventStatus.RECEIVED, None, now, None
        uow.commit()
        view = row_view(event)
    runtime.wake_worker()
    return view


def process_event(runtime: Runtime, event_id: int) -> None:
    """Process one claimed event; failures are kept on the event, never raised."""
    with runtime.uow() as uow:
        event, connection = _with_connection(uow.session, event_id)
        log_context.bind(request_id=event.request_id, event_id=event_id, connection_id=event.connection_id)
        kind, object_id = event.kind, event.object_id
        properties = [m.property for m in mapped_fields(uow.session, connection.id)] if kind in DEAL_KINDS else []
        buyer_mapping = customer_fields(uow.session, connection.id) if kind in DEAL_KINDS else {}
        connection_id = connection.id
    snapshot: DealSnapshot | None = None
    buyer: tuple[CustomerSnapshot, ...] = ()
    if kind in DEAL_KINDS:
        with runtime.shared_adapter(connection) as adapter:  # kept for the next event: never closed here
            try:
                snapshot = adapter.get_deal(object_id, properties)
            except CRMNotFound:
                _end(runtime, event_id, EventStatus.IGNORED, f"deal {object_id} no longer exists in the CRM")
                return
            except CRMError as exc:
                _retry_or_fail(runtime, event_id, exc)
                return
            except Exception as exc:  # keep the event with its error; never lose it
                log.exception("event %s: unexpected error while reading the deal", event_id)
                _end(runtime, event_id, EventStatus.FAILED, error_text(exc))
                return
            buyer = read_buyer(runtime, connection_id, adapter, snapshot, buyer_mapping)
    try:
        _apply(runtime, event_id, snapshot, buyer, buyer_mapping)
    except OperationalError as exc:
        # The database went away (a restart, a dropped connection, even at COMMIT): nothing of this attempt
        # was kept, so the event is read again later; if even that cannot be written, the claim goes stale
        # and another worker takes the event up (claims.py).
        log.warning("event %s: the database failed while applying it (%s); retrying", event_id, exc.orig)
        with contextlib.suppress(SQLAlchemyError):
            _retry_later(runtime, event_id, error_text(exc), RETRY_DELAYS[0])
    except Exception as exc:
        log.exception("event %s: processing failed", event_id)
        _end(runtime, event_id, EventStatus.FAILED, error_text(exc))


def _with_connection(session: Session, event_id: int) -> tuple[InboundEvent, Connection]:
    """The event and its connection, in one query."""
    event, connection = session.execute(select(InboundEvent, Connection)
                                        .join(Connection, Connection.id == InboundEvent.connection_id)
                                        .where(InboundEvent.id == event_id)).one()
    return event, connection


def _finish(event: InboundEvent, status: EventStatus, note: str | None, runtime: Runtime) -> None:
    if status is not EventStatus.FAILED and event.available_at is not None and event.started_at is not None \
            and event.available_at > event.started_at:
        # A delivery of this event came in while it was read, within the second it happened in: the deal
        # may have changed again after that read (intake._read_again_if_too_early), so read it again.
        event.status, event.error = EventStatus.RECEIVED, note
        return
    event.status, event.error, event.processed_at = status, note, runtime.clock()
    metrics.event_finished(event.id, str(status), note)


def _end(runtime: Runtime, event_id: int, status: EventStatus, note: str) -> None:
    with runtime.uow() as uow:
        _finish(uow.session.get_one(InboundEvent, event_id), status, note, runtime)
        uow.commit()


def _retry_or_fail(runtime: Runtime, event_id: int, exc: CRMError) -> None:
    with runtime.uow() as uow:
        event = uow.session.get_one(InboundEvent, event_id)
        if exc.retryable and event.attempts < MAX_ATTEMPTS:
            delay = max(RETRY_DELAYS[min(max(event.attempts, 1) - 1, len(RETRY_DELAYS) - 1)], exc.retry_after or 0)
            until = _put_back(event, error_text(exc), delay, runtime)
            if isinstance(exc, CRMTransientError):
                _hold_connection(uow.session, event.connection_id, until)
        else:
            _finish(event, EventStatus.FAILED, error_text(exc), runtime)
        uow.commit()


def _retry_later(runtime: Runtime, event_id: int, note: str, delay: float) -> None:
    with runtime.uow() as uow:
        event = uow.session.get_one(InboundEvent, event_id)
        if event.attempts < MAX_ATTEMPTS:
            _put_back(event, note, delay, runtime)
        else:
            _finish(event, EventStatus.FAILED, note, runtime)
        uow.commit()


def _put_back(event: InboundEvent, note: str, delay: float, runtime: Runtime) -> datetime:
    until = runtime.clock() + timedelta(seconds=delay)
    event.status, event.error, event.available_at = EventStatus.RECEIVED, note, until
    metrics.event_finished(event.id, "retried", f"in {delay} s: {note}")
    return until


def _hold_connection(session: Session, connection_id: int, until: datetime) -> None:
    """The CRM is down or throttling the whole account: its other waiting events wait as long as this one
    (attempts unchanged), so the workers serve other connections meanwhile instead of each of those events
    spending its own retries on the same outage."""
    session.execute(update(InboundEvent).where(
        InboundEvent.connection_id == connection_id, InboundEvent.status == EventStatus.RECEIVED,
        or_(InboundEvent.available_at.is_(None), InboundEvent.available_at < until)).values(available_at=until))


def _apply(runtime: Runtime, event_id: int, snapshot: DealSnapshot | None, buyer: tuple[CustomerSnapshot, ...] = (),
           buyer_mapping: dict[str, list[MappedField]] | None = None) -> None:
    crash_point("before_decision")
    with runtime.uow() as uow:
        session = uow.session
        event, connection = _with_connection(session, event_id)
        if snapshot is None:
            _apply_non_deal_event(runtime, session, event)
            uow.commit()
            return
        observed = observe(runtime, session, connection, Observation(
            snapshot=snapshot, seen_at=event.occurred_at, origin="webhook", new_stage=event.new_stage,
            old_stage=event.old_stage, old_pipeline=event.old_pipeline,
            source=event.source, change_source=event.change_source, actor=event.actor, event_id=event.id,
        ))
        _finish(event, EventStatus.DONE if observed.seen.acted_on else EventStatus.IGNORED, observed.note, runtime)
        store_buyer(session, connection, snapshot.id, buyer, buyer_mapping or {})
        uow.commit()
    crash_point("after_decision")


def _apply_non_deal_event(runtime: Runtime, session: Session, event: InboundEvent) -> None:
    if event.kind == "deletion":
        record = find_record(session, event.connection_id, event.object_id)
        if record is not None:
            record.deleted = True
        _finish(event, EventStatus.DONE, "deal deleted", runtime)
    else:
        _finish(event, EventStatus.IGNORED, f"{event.kind} events are not acted on", runtime)
