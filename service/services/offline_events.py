"""Offline events: where a CRM keeps a queue of events to read (Bitrix24 for OAuth apps), the reliable
alternative to its fire-and-forget webhooks. Qualify reads them, stores them like webhook events
(deduplicated), and only then clears them, so none is lost. The registry says which CRMs have such a queue."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from adapters.errors import CRMError
from adapters.kind import no_offline_source
from adapters.registry import REGISTRY
from service.models import Connection
from service.runtime import Runtime
from service.services.intake import store_events

log = logging.getLogger("qualify.offline")

BATCH = 50
SOURCE_HEADER = {"X-Qualify-Source": "offline-events"}


def pull_offline_events(runtime: Runtime) -> int:
    """Read, store and clear the queued offline events of every active connection whose CRM keeps them;
    returns how many events were stored."""
    kinds = [name for name, kind in REGISTRY.items() if kind.offline_source is not no_offline_source]
    with runtime.read_uow() as uow:
        ids = list(uow.session.scalars(
            select(Connection.id).where(Connection.kind.in_(kinds), Connection.active.is_(True))))
    return sum(_pull(runtime, connection_id) for connection_id in ids)


def _pull(runtime: Runtime, connection_id: int) -> int:
    with runtime.read_uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        adapter = runtime.adapter(connection)
        source = runtime.connector.offline_source(connection, adapter)
    try:
        if source is None:
            return 0  # this connection cannot read the queue (e.g. a Bitrix24 incoming-webhook URL)
        events = source.fetch_offline_events(BATCH)
        if not events:
            return 0
        body = json.dumps([dict(e.raw) for e in events], default=str).encode()
        with runtime.uow() as uow:
            stored = store_events(runtime, uow.session, connection_id, events, SOURCE_HEADER, body)
            uow.commit()
        # Cleared only once stored: a crash in between reads them again, and the keys dedupe them.
        source.clear_offline_events(events)
        if stored:
            runtime.wake_worker()
        return stored
    except CRMError as exc:
        log.warning("connection %s: offline events not read: %s", connection_id, exc)
        return 0
    finally:
        adapter.close()
