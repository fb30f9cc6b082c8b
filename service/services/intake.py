"""Webhook intake: verify, store raw and deduplicated, answer fast. Processing is the worker's job."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import WebhookEvent, WebhookVerifier
from adapters.kind import CRMKind
from adapters.registry import kind_of
from service import metrics
from service.errors import NotFoundError, StorageError
from service.models import Connection, EventStatus, InboundEvent, WebhookDelivery
from service.runtime import Runtime

log = logging.getLogger("qualify.intake")

SAME_SECOND = timedelta(seconds=1)

def _event_row(connection_id: int, event: WebhookEvent) -> dict[str, Any]:
    return {
        "connection_id": connection_id, "delivery_key": event.delivery_key, "object_id": event.object_id,
        "kind": event.kind, "occurred_at": event.occurred_at, "payload": dict(event.raw),
        "new_stage": event.new_stage, "source": event.source, "actor": event.source_id,
        "old_stage": event.old_stage, "new_pipeline": event.new_pipeline, "old_pipeline": event.old_pipeline,
        "change_source": event.change_source,
        "status": EventStatus.RECEIVED, "attempts": 0, "received_at": None,
    }


# Built once: intake runs it on every delivery and only needs the cache key and the active flag.
VERSION_QUERY = select(Connection.id, Connection.config_version, Connection.created_at, Connection.active).where(
    Connection.id == bindparam("id"))


def _verifier(runtime: Runtime, session: Any, connection_id: int) -> tuple[WebhookVerifier, CRMKind]:
    """The connection's verifier (which checks the account too) and its CRM's registry entry, cached per
    configuration version."""
    row = session.connection().execute(VERSION_QUERY, {"id": connection_id}).first()
    if row is None or not row.active:
        raise NotFoundError(f"No active connection {connection_id}.")

    def build() -> tuple[WebhookVerifier, CRMKind]:
        connection = session.get_one(Connection, connection_id)
        return runtime.verifier(connection), kind_of(connection.kind)

    return runtime.cached_for(row, "verifier", build)


def receive_webhook(
    runtime: Runtime, connection_id: int, *, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> dict[str, int]:
    """Verify and store a delivery; raises WebhookAuthError/WebhookFormatError (nothing stored),
    NotFoundError for an unknown connection, StorageError when the events could not be persisted."""
    with runtime.uow() as uow:
        verifier, kind = _verifier(runtime, uow.session, connection_id)
        verifier.verify(method=method, url=url, headers=headers, body=body, now=runtime.clock().timestamp())
        events = verifier.parse(body, headers)
        kept = {name: value for name, value in headers.items() if name.lower() in kind.kept_headers}
        try:
            # The raw body is kept for replays and audits, without the secrets some CRMs send in it.
            stored = store_events(runtime, uow.session, connection_id, events, kept, kind.redact_body(body, headers))
            uow.commit()
        except SQLAlchemyError as exc:
            log.exception("could not store webhook delivery for connection %s", connection_id)
            raise StorageError("The delivery could not be stored; retry later.") from exc
    metrics.webhook_stored(kind.name, connection_id, len(events), stored)
    if stored:
        runtime.wake_worker()
    return {"received": len(events), "stored": stored, "duplicates": len(events) - stored}


def store_events(runtime: Runtime, session: Any, connection_id: int, events: list[WebhookEvent],
                 kept: Mapping[str, str], body: bytes) -> int:
    """Insert the raw delivery (with the headers worth keeping) and its new events, in the session's
    transaction; a delivery that brought nothing new is not kept. Returns how many events were new."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = runtime.clock()
    # Core statements on the session's connection: cached, without ORM bulk-insert overhead.
    conn = session.connection()
    deliveries: Table = WebhookDelivery.__table__  # type: ignore[assignment]
    inbound: Table = InboundEvent.__table__  # type: ignore[assignment]
    delivery_id = conn.scalar(
        insert(deliveries).returning(deliveries.c.id),
        {"connection_id": connection_id, "received_at": now, "body": body, "headers": kept,
         "event_count": len(events)},
    )
    rows = {e.delivery_key: {**_event_row(connection_id, e), "received_at": now, "delivery_id": delivery_id}
            for e in events}
    # executemany with one cached statement; ON CONFLICT makes duplicates a no-op.
    statement = (
        insert(inbound)
        .on_conflict_do_nothing(index_elements=["connection_id", "delivery_key"])
        .returning(inbound.c.delivery_key)
    )
    new_keys = set(conn.scalars(statement, list(rows.values())))
    if not new_keys:
        conn.execute(delete(deliveries).where(deliveries.c.id == delivery_id))
    repeated = [key for key in rows if key not in new_keys]
    if repeated and _read_again_if_too_early(conn, connection_id, repeated, now):
        runtime.wake_worker()
    return len(new_keys)


def _read_again_if_too_early(conn: Any, connection_id: int, keys: list[str], now: datetime) -> int:
    """Have the events of a repeated delivery read again when their deal was read before the second they
    happened in was over; returns how many.

    A CRM whose events carry no id of their own (Bitrix24: event, deal and a `ts` in seconds) gives two
    changes of one deal in the same second one delivery key, so the second change arrives as a duplicate. The
    deal read for the first shows the second only if it was read after that second ended; otherwise the
    event is read again (once done: queued again; while being read: after that read). A true replay comes
    later and changes nothing, so replays never cost CRM calls.
    """
    inbound: Table = InboundEvent.__table__  # type: ignore[assignment]
    found = conn.execute(select(inbound.c.id, inbound.c.status, inbound.c.occurred_at, inbound.c.started_at,
                                inbound.c.processed_at).where(
        inbound.c.connection_id == connection_id, inbound.c.delivery_key.in_(keys))).all()
    finished = [e.id for e in found if e.status in (EventStatus.DONE, EventStatus.IGNORED)
                and e.processed_at is not None and e.processed_at < e.occurred_at + SAME_SECOND]
    reading = [e.id for e in found if e.status == EventStatus.PROCESSING
               and e.started_at is not None and e.started_at < e.occurred_at + SAME_SECOND]
    if finished:
        conn.execute(update(inbound).where(inbound.c.id.in_(finished)).values(
            status=EventStatus.RECEIVED, available_at=now, processed_at=None))
    if reading:  # events.py reads an event again when a delivery came in while it was processed
        conn.execute(update(inbound).where(inbound.c.id.in_(reading)).values(available_at=now))
    return len(finished) + len(reading)
