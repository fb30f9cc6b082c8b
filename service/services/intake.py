"""Webhook intake: verify, store raw and deduplicated, answer fast. Processing is the worker's job."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import WebhookEvent
from adapters.errors import WebhookAuthError
from service.errors import NotFoundError, StorageError
from service.models import Connection, InboundEvent, WebhookDelivery
from service.runtime import Runtime

log = logging.getLogger("qualify.intake")

KEPT_HEADERS = ("content-type", "user-agent", "x-hubspot-signature-version", "x-hubspot-request-timestamp")


def _event_row(connection_id: int, event: WebhookEvent) -> dict[str, Any]:
    return {
        "connection_id": connection_id, "delivery_key": event.delivery_key, "object_id": event.object_id,
        "kind": event.kind, "occurred_at": event.occurred_at, "payload": dict(event.raw),
        "status": "received", "attempts": 0, "received_at": None,
    }


def _check_account(connection: Connection, events: list[WebhookEvent]) -> None:
    if not connection.account_id:
        return
    for event in events:
        account = event.raw.get("portalId")
        if account is not None and str(account) != connection.account_id:
            raise WebhookAuthError("wrong_account", "The delivery is for another CRM account.")


def receive_webhook(
    runtime: Runtime, connection_id: int, *, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> dict[str, int]:
    """Verify and store a delivery; raises WebhookAuthError/WebhookFormatError (nothing stored),
    NotFoundError for an unknown connection, StorageError when the events could not be persisted."""
    with runtime.uow() as uow:
        connection = uow.session.get(Connection, connection_id)
        if connection is None or not connection.active:
            raise NotFoundError(f"No active connection {connection_id}.")
        verifier = runtime.verifier(connection)
        verifier.verify(method=method, url=url, headers=headers, body=body, now=runtime.clock().timestamp())
        events = verifier.parse(body, headers)
        _check_account(connection, events)
        try:
            stored = _store(runtime, uow.session, connection_id, events, headers, body)
            uow.commit()
        except SQLAlchemyError as exc:
            log.exception("could not store webhook delivery for connection %s", connection_id)
            raise StorageError("The delivery could not be stored; retry later.") from exc
    if stored:
        runtime.wake_worker()
    return {"received": len(events), "stored": stored, "duplicates": len(events) - stored}


def _store(runtime: Runtime, session: Any, connection_id: int, events: list[WebhookEvent],
           headers: Mapping[str, str], body: bytes) -> int:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = runtime.clock()
    rows = [{**_event_row(connection_id, e), "received_at": now} for e in events]
    unique_rows = list({r["delivery_key"]: r for r in rows}.values())
    statement = (
        insert(InboundEvent).values(unique_rows)
        .on_conflict_do_nothing(index_elements=["connection_id", "delivery_key"])
        .returning(InboundEvent.id)
    )
    new_ids = list(session.scalars(statement))
    if not new_ids:
        return 0
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    delivery = WebhookDelivery(connection_id=connection_id, received_at=now, body=body, headers=kept,
                               event_count=len(events))
    session.add(delivery)
    session.flush()
    session.execute(update(InboundEvent).where(InboundEvent.id.in_(new_ids)).values(delivery_id=delivery.id))
    return len(new_ids)
