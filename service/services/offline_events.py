"""Bitrix24 offline events: the reliable alternative to its fire-and-forget webhooks.

Where the portal allows it (OAuth apps), events queue in Bitrix24 until read; Qualify reads them,
stores them like webhook events (deduplicated), and only then clears them, so none is lost.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from adapters.bitrix24 import Bitrix24Adapter
from adapters.errors import CRMError
from service.models import Connection
from service.runtime import Runtime
from service.services.intake import store_events

log = logging.getLogger("qualify.offline")


def pull_offline_events(runtime: Runtime) -> int:
    """Read, store and clear the queued offline events of every active Bitrix24 connection; events stored."""
    with runtime.read_uow() as uow:
        ids = list(uow.session.scalars(
            select(Connection.id).where(Connection.kind == "bitrix24", Connection.active.is_(True))))
    return sum(_pull(runtime, connection_id) for connection_id in ids)


def _pull(runtime: Runtime, connection_id: int) -> int:
    with runtime.read_uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        if not runtime.secrets(connection).get("access_token"):
            return 0  # incoming-webhook URLs cannot read offline events (OAuth only)
        adapter = runtime.adapter(connection)
    assert isinstance(adapter, Bitrix24Adapter)
    try:
        events = adapter.fetch_offline_events(50)
        if not events:
            return 0
        body = json.dumps([dict(e.raw) for e in events], default=str).encode()
        with runtime.uow() as uow:
            stored = store_events(runtime, uow.session, connection_id, events, {"X-Qualify-Source": "bitrix24-offline"},
                            body)
            uow.commit()
        # Cleared only once stored: a crash in between reads them again, and the keys dedupe them.
        adapter.clear_offline_events([str(e.raw.get("MESSAGE_ID")) for e in events])
        if stored:
            runtime.wake_worker()
        return stored
    except CRMError as exc:
        log.warning("connection %s: offline events not read: %s", connection_id, exc)
        return 0
    finally:
        adapter.close()
