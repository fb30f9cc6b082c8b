"""How intake writes a delivery: the raw body (with the headers worth keeping) and its new events, deduplicated by
(connection, delivery key), a delivery that brought nothing new not kept. The statements are built once; nothing
here commits (the callers own the transaction).

Two forms of the same write:
- `store` (SQLAlchemy, any database, inside the caller's transaction): insert the delivery, insert the events
  with ON CONFLICT DO NOTHING, delete the delivery again when every event was a duplicate. `store_events` (the
  offline-event poller) and in-memory SQLite use it; on a SQLite file service/services/intake_driver.py runs
  the same statements (GUARDED_DELIVERY, EVENTS, compiled once) on a sqlite3 connection of its own.
- `ONE_STATEMENT` (PostgreSQL, run by intake_driver.py with `one_statement_params`): the same as one statement,
  so that it commits on its own (autocommit) in one round trip: the delivery's id is drawn first, the events
  are inserted, and the delivery only if one of them was new (the events' foreign key is checked at the end of
  the statement).

With a `guard` (config_version, created_at) either form writes nothing unless the connection is still active at
that version: the version a verifier was built from is checked by the write itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, Table, bindparam, delete, exists, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.base import WebhookEvent
from service.db import UTCDateTime
from service.log_context import current_request_id
from service.models import Connection, EventStatus, InboundEvent, WebhookDelivery

SAME_SECOND = timedelta(seconds=1)
_connections: Table = Connection.__table__  # type: ignore[assignment]
deliveries: Table = WebhookDelivery.__table__  # type: ignore[assignment]
_inbound: Table = InboundEvent.__table__  # type: ignore[assignment]

_CURRENT = exists(select(_connections.c.id).where(
    _connections.c.id == bindparam("connection_id"), _connections.c.active,
    _connections.c.config_version == bindparam("config_version"),
    _connections.c.created_at == bindparam("created_at", type_=UTCDateTime())))
_DELIVERY = insert(deliveries).returning(deliveries.c.id)
GUARDED_DELIVERY = insert(deliveries).from_select(
    ["connection_id", "received_at", "body", "headers", "event_count"],
    select(bindparam("connection_id", type_=Integer()), bindparam("received_at", type_=UTCDateTime()),
           bindparam("body", type_=LargeBinary()), bindparam("headers", type_=JSON()),
           bindparam("event_count", type_=Integer())).where(_CURRENT),
).returning(deliveries.c.id)
EVENTS = {dialect: insert_(_inbound).on_conflict_do_nothing(index_elements=["connection_id", "delivery_key"])
           .returning(_inbound.c.delivery_key) for dialect, insert_ in (("postgresql", pg_insert),
                                                                       ("sqlite", sqlite_insert))}
DELETE_DELIVERY = delete(deliveries).where(deliveries.c.id == bindparam("delivery_id"))

# The per-event values ONE_STATEMENT reads (one_statement_params), as one JSON array of arrays (one json.dumps:
# cheaper to send than an array per column); (column, SQL reading element i of an event `e`).
_EVENT_VALUES = (("delivery_key", "e->>{i}"), ("object_id", "e->>{i}"), ("kind", "e->>{i}"),
                 ("occurred_at", "CAST(e->>{i} AS timestamptz)"), ("new_stage", "e->>{i}"), ("old_stage", "e->>{i}"),
                 ("new_pipeline", "e->>{i}"), ("old_pipeline", "e->>{i}"), ("source", "e->>{i}"),
                 ("change_source", "e->>{i}"), ("actor", "e->>{i}"), ("payload", "e->{i}"))
ONE_STATEMENT = text(f"""
WITH current AS (
    SELECT id FROM connections
    WHERE id = :connection_id AND active AND config_version = :config_version AND created_at = :created_at
), delivery AS (
    SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) AS id FROM current
), new_events AS (
    INSERT INTO inbound_events (connection_id, delivery_id, {", ".join(c for c, _ in _EVENT_VALUES)}, status,
                                attempts, received_at, request_id)
    SELECT :connection_id, delivery.id, {", ".join(v.format(i=i) for i, (_, v) in enumerate(_EVENT_VALUES))},
           :status, 0, :received_at, :request_id
    FROM delivery, json_array_elements(CAST(:events AS json)) AS e
    ON CONFLICT (connection_id, delivery_key) DO NOTHING
    RETURNING delivery_key
), kept AS (
    INSERT INTO webhook_deliveries (id, connection_id, received_at, body, headers, event_count)
    SELECT delivery.id, :connection_id, :received_at, :body, CAST(:headers AS json), :event_count
    FROM delivery WHERE EXISTS (SELECT FROM new_events)
)
SELECT EXISTS (SELECT FROM current) AS current, ARRAY(SELECT delivery_key FROM new_events) AS new_keys
""")


def event_row(connection_id: int, event: WebhookEvent) -> dict[str, Any]:
    """The inbound_events values of an event (received_at and delivery_id left to the caller)."""
    return {
        "connection_id": connection_id, "delivery_key": event.delivery_key, "object_id": event.object_id,
        "kind": event.kind, "occurred_at": event.occurred_at, "payload": dict(event.raw),
        "new_stage": event.new_stage, "source": event.source, "actor": event.source_id,
        "old_stage": event.old_stage, "new_pipeline": event.new_pipeline, "old_pipeline": event.old_pipeline,
        "change_source": event.change_source,
        "status": EventStatus.RECEIVED, "attempts": 0, "received_at": None,
    }


def store(conn: Any, connection_id: int, events: list[WebhookEvent], kept: Mapping[str, str], body: bytes,
          now: datetime, guard: Mapping[str, Any] | None = None) -> tuple[int, list[str]] | None:
    """Write the delivery in `conn`'s transaction; (events new, keys of the repeated ones), or None when the
    `guard` found the connection changed (nothing written)."""
    delivery = {"connection_id": connection_id, "received_at": now, "body": body, "headers": kept,
                "event_count": len(events)}
    if guard is None:
        delivery_id = conn.scalar(_DELIVERY, delivery)
    else:
        delivery_id = conn.scalar(GUARDED_DELIVERY, {**delivery, **guard})
        if delivery_id is None:
            return None
    rows = {e.delivery_key: {**event_row(connection_id, e), "received_at": now, "delivery_id": delivery_id}
            for e in events}
    # executemany with one cached statement (one multi-row INSERT); ON CONFLICT makes duplicates a no-op.
    new_keys = set(conn.scalars(EVENTS[conn.dialect.name], list(rows.values())))
    if not new_keys:
        conn.execute(DELETE_DELIVERY, {"delivery_id": delivery_id})
    return len(new_keys), [key for key in rows if key not in new_keys]


def one_statement_params(connection_id: int, events: list[WebhookEvent], kept: Mapping[str, str], body: bytes,
                         now: datetime, guard: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """ONE_STATEMENT's parameters for a guarded delivery, and the keys of its events (each once, in order)."""
    rows = {e.delivery_key: event_row(connection_id, e) for e in events}
    values = [[row["occurred_at"].isoformat() if column == "occurred_at" else row[column]
               for column, _ in _EVENT_VALUES] for row in rows.values()]
    return {"events": json.dumps(values), "connection_id": connection_id, "received_at": now, "body": body,
            "headers": json.dumps(kept), "event_count": len(events), "status": str(EventStatus.RECEIVED),
            "request_id": current_request_id(), **guard}, list(rows)


def too_early(found: Sequence[Any]) -> tuple[list[int], list[int]]:
    """Of repeated events (rows with id, status, occurred_at, started_at, processed_at), the ids of those to
    queue again (finished from a deal read within their second) and of those to read again after the read
    under way (claimed within their second): see `read_again_if_too_early`."""
    finished = [e.id for e in found if e.status in (EventStatus.DONE, EventStatus.IGNORED)
                and e.processed_at is not None and e.processed_at < e.occurred_at + SAME_SECOND]
    reading = [e.id for e in found if e.status == EventStatus.PROCESSING
               and e.started_at is not None and e.started_at < e.occurred_at + SAME_SECOND]
    return finished, reading


def read_again_if_too_early(conn: Any, connection_id: int, keys: list[str], now: datetime) -> int:
    """Have the events of a repeated delivery read again when their deal was read before the second they
    happened in was over; returns how many.

    A CRM whose events carry no id of their own (Bitrix24: event, deal and a `ts` in seconds) gives two
    changes of one deal in the same second one delivery key, so the second change arrives as a duplicate. The
    deal read for the first shows the second only if it was read after that second ended; otherwise the
    event is read again (once done: queued again; while being read: after that read). A true replay comes
    later and changes nothing, so replays never cost CRM calls.
    """
    found = conn.execute(select(_inbound.c.id, _inbound.c.status, _inbound.c.occurred_at, _inbound.c.started_at,
                                _inbound.c.processed_at).where(
        _inbound.c.connection_id == connection_id, _inbound.c.delivery_key.in_(keys))).all()
    finished, reading = too_early(found)
    if finished:
        conn.execute(update(_inbound).where(_inbound.c.id.in_(finished)).values(
            status=EventStatus.RECEIVED, available_at=now, processed_at=None))
    if reading:  # events.py reads an event again when a delivery came in while it was processed
        conn.execute(update(_inbound).where(_inbound.c.id.in_(reading)).values(available_at=now))
    return len(finished) + len(reading)
