"""Processing stored inbound events: fetch the deal, detect the move, decide, queue actions."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from adapters.base import DealSnapshot
from adapters.errors import CRMError, CRMNotFound
from service.errors import ConflictError
from service.faults import crash_point
from service.models import Connection, InboundEvent
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.deals import find_record, mapped_fields
from service.services.observe import Observation, observe
from service.unit_of_work import UnitOfWork

log = logging.getLogger("qualify.events")

DEAL_KINDS = frozenset({"property_change", "creation", "restore", "merge"})
RETRY_DELAYS = (1, 5, 30, 120, 600)
MAX_ATTEMPTS = 6


def claim_events(runtime: Runtime, limit: int) -> list[int]:
    """Mark up to `limit` ready events (or ones a crashed worker left `processing`) as ours, oldest first."""
    now = runtime.clock()
    stale = now - timedelta(seconds=runtime.settings.event_stale_seconds)
    with runtime.uow() as uow:
        query = (
            select(InboundEvent)
            .where(or_(
                (InboundEvent.status == "received")
                & (or_(InboundEvent.available_at.is_(None), InboundEvent.available_at <= now)),
                (InboundEvent.status == "processing") & (InboundEvent.started_at < stale),
            ))
            .order_by(InboundEvent.occurred_at, InboundEvent.id)
            .limit(limit)
        )
        if runtime.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = uow.session.scalars(query).all()
        for event in events:
            event.status, event.started_at, event.attempts = "processing", now, event.attempts + 1
        uow.commit()
        return [e.id for e in events]


def replay_event(uow: UnitOfWork, event_id: int, now: datetime) -> InboundEvent:
    """Queue a failed or ignored event to be processed again; ConflictError while it is in flight."""
    event = get_or_404(uow.session, InboundEvent, event_id, "Event")
    if event.status in ("received", "processing"):
        raise ConflictError(f"Event {event_id} is {event.status}; it will be processed without a replay.")
    event.status, event.error, event.available_at, event.processed_at = "received", None, now, None
    return event


def _finish(uow: UnitOfWork, event: InboundEvent, status: str, note: str | None, now: datetime) -> None:
    event.status, event.error, event.processed_at = status, note, now


def process_event(runtime: Runtime, event_id: int) -> None:
    """Process one claimed event; failures are kept on the event, never raised."""
    with runtime.uow() as uow:
        event = uow.session.get_one(InboundEvent, event_id)
        connection = uow.session.get_one(Connection, event.connection_id)
        kind, object_id = event.kind, event.object_id
        properties = [m.property for m in mapped_fields(uow.session, connection.id)]
        adapter = runtime.adapter(connection) if kind in DEAL_KINDS else None
    try:
        snapshot = adapter.get_deal(object_id, properties) if adapter else None
    except CRMNotFound:
        return _close(runtime, event_id, "ignored", f"deal {object_id} no longer exists in the CRM")
    except CRMError as exc:
        return _retry_or_fail(runtime, event_id, exc)
    except Exception as exc:  # keep the event with its error; never lose it
        log.exception("event %s: unexpected error while reading the deal", event_id)
        return _close(runtime, event_id, "failed", f"{type(exc).__name__}: {exc}")
    finally:
        if adapter is not None:
            adapter.close()
    try:
        _apply(runtime, event_id, snapshot)
    except Exception as exc:
        log.exception("event %s: processing failed", event_id)
        _close(runtime, event_id, "failed", f"{type(exc).__name__}: {exc}")


def _close(runtime: Runtime, event_id: int, status: str, note: str) -> None:
    with runtime.uow() as uow:
        _finish(uow, uow.session.get_one(InboundEvent, event_id), status, note, runtime.clock())
        uow.commit()


def _retry_or_fail(runtime: Runtime, event_id: int, exc: CRMError) -> None:
    with runtime.uow() as uow:
        event = uow.session.get_one(InboundEvent, event_id)
        message = f"{type(exc).__name__}: {exc.vendor_message or exc.message}"
        if exc.retryable and event.attempts < MAX_ATTEMPTS:
            delay = max(RETRY_DELAYS[min(event.attempts - 1, len(RETRY_DELAYS) - 1)],
                        getattr(exc, "retry_after", None) or 0)
            event.status, event.error = "received", message
            event.available_at = runtime.clock() + timedelta(seconds=delay)
        else:
            _finish(uow, event, "failed", message, runtime.clock())
        uow.commit()


def _apply(runtime: Runtime, event_id: int, snapshot: DealSnapshot | None) -> None:
    crash_point("before_decision")
    now = runtime.clock()
    with runtime.uow() as uow:
        session = uow.session
        event = session.get_one(InboundEvent, event_id)
        connection = session.get_one(Connection, event.connection_id)
        if snapshot is None:
            _apply_non_deal_event(uow, event, now)
            uow.commit()
            return
        observation = Observation(
            snapshot=snapshot, seen_at=event.occurred_at, origin="webhook", new_stage=event.new_stage,
            old_stage=event.old_stage, old_pipeline=event.old_pipeline,
            source=event.source, change_source=event.change_source, actor=event.actor, event_id=event.id,
        )
        status, note, _ = observe(runtime, session, connection, observation)
        _finish(uow, event, status, note, now)
        uow.commit()
    crash_point("after_decision")


def _apply_non_deal_event(uow: UnitOfWork, event: InboundEvent, now: datetime) -> None:
    if event.kind == "deletion":
        record = find_record(uow.session, event.connection_id, event.object_id)
        if record is not None:
            record.deleted = True
        _finish(uow, event, "done", "deal deleted", now)
    else:
        _finish(uow, event, "ignored", f"{event.kind} events are not acted on", now)
