"""The admin's view of stored CRM events that need attention: those that failed (kept with their error until
someone replays them, services/events.py:replay_event) and those waiting for another try after a CRM failure
worth retrying. Read-only: replaying is events.replay_event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from service.models import Connection, EventStatus, InboundEvent, Record
from service.runtime import Runtime

# What each list shows: failed events (replayable), or events put back to `received` after a failed attempt.
SHOWN: dict[str, ColumnElement[bool]] = {
    "failed": InboundEvent.status == EventStatus.FAILED,
    "waiting": and_(InboundEvent.status == EventStatus.RECEIVED, InboundEvent.attempts > 0),
}


def _count(session: Session, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(InboundEvent).where(where)) or 0)


def event_queue(runtime: Runtime, show: str, page: int, page_size: int) -> dict[str, Any]:
    """A page of the events of list `show` ("failed" or "waiting"), newest first, each with its CRM connection
    and the deal Qualify knows by its id (None when it never stored it), plus how many each list holds.
    KeyError for another `show` (the page's schema allows only these two)."""
    where = SHOWN[show]
    with runtime.read_uow() as uow:
        session = uow.session
        counts = {name: _count(session, condition) for name, condition in SHOWN.items()}
        rows = session.execute(
            select(InboundEvent, Connection.name, Connection.kind, Record.id, Record.name)
            .join(Connection, Connection.id == InboundEvent.connection_id)
            .outerjoin(Record, and_(Record.connection_id == InboundEvent.connection_id,
                                    Record.external_id == InboundEvent.object_id))
            .where(where).order_by(InboundEvent.id.desc())
            .limit(page_size).offset((page - 1) * page_size)).all()
        items = [{
            "id": event.id, "connection_id": event.connection_id, "connection_name": connection_name,
            "crm": crm, "deal_id": event.object_id, "record_id": record_id, "deal_name": deal_name,
            "kind": event.kind, "status": event.status, "attempts": event.attempts, "error": event.error,
            "occurred_at": event.occurred_at, "received_at": event.received_at,
            "processed_at": event.processed_at, "available_at": event.available_at,
        } for event, connection_name, crm, record_id, deal_name in rows]
    return {"show": show, "items": items, "total": counts[show], "counts": counts, "page": page,
            "page_size": page_size}
