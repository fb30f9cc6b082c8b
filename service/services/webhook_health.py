"""Webhook health of a connection: refused deliveries counted per UTC hour and reason (never a body), and what
an admin needs to see whether the CRM reaches Qualify: the last accepted delivery, the refusals by reason and
the last sync run. The acknowledgement of an accepted delivery writes nothing here (webhook_deliveries holds it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, case, exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from adapters.registry import kind_of
from service.models import Connection, InboundEvent, SyncRun, WebhookDelivery, WebhookRejection
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.connection_test import check_connection
from service.services.connections import webhook_url

log = logging.getLogger("qualify.webhook_health")

# The reasons a refusal is stored under: the adapters' codes (adapters/*_webhooks.py) and a few derived from
# the status. A closed set, so that nothing a client sends can add rows of new reasons.
REASONS = frozenset({
    "bad_signature", "missing_signature", "bad_timestamp", "stale_timestamp", "bad_token", "missing_token",
    "bad_auth", "missing_auth", "bad_secret", "missing_secret", "wrong_account", "wrong_portal",
    "bad_json", "bad_form", "bad_event", "bad_batch",
    "malformed", "too_large", "unsupported_media_type", "forbidden", "other",
})
COUNTED_STATUSES = frozenset({400, 401, 403, 413, 415, 422})
# The reason of a refusal whose problem names none.
STATUS_REASONS = {400: "malformed", 403: "forbidden", 413: "too_large", 415: "unsupported_media_type",
                  422: "malformed"}
REASONED_STATUSES = frozenset({400, 401, 403})  # where the problem's own `reason` is used
HINTS = {
    "nothing_received": "Nothing has arrived from the CRM and it was never synced: paste the webhook URL into the "
                        "CRM's webhook settings, subscribe to deal changes, then test the connection.",
    "only_refused": "Deliveries arrive but every one was refused: check the secret the CRM sends (signature, "
                    "token or password) against the connection's, and its account id.",
}


def rejection_reason(status: int, reason: object = None) -> str | None:
    """The reason a refused delivery answered with `status` is counted under (from the closed REASONS; a
    problem's own `reason` only for 400, 401 and 403), or None when that status is not counted."""
    if status not in COUNTED_STATUSES:
        return None
    if status in REASONED_STATUSES and isinstance(reason, str) and reason:
        return reason if reason in REASONS else "other"
    return STATUS_REASONS.get(status, "other")


def hour_of(at: datetime) -> datetime:
    """The UTC hour `at` falls in (its start)."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _upsert(dialect: str, connection_id: int, hour: datetime, reason: str, at: datetime) -> Insert:
    """+1 on the (connection, hour, reason) row, created at 1; nothing for a connection that does not exist."""
    table: Table = WebhookRejection.__table__  # type: ignore[assignment]
    known = exists().where(Connection.id == connection_id)
    row = select(literal(connection_id), literal(hour, WebhookRejection.hour.type), literal(reason),
                 literal(1), literal(at, WebhookRejection.last_at.type)).where(known)
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).from_select(
        ["connection_id", "hour", "reason", "count", "last_at"], row)
    stored, incoming = table.c, insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[stored.connection_id, stored.hour, stored.reason],
        set_={"count": stored["count"] + 1,
              "last_at": case((incoming.last_at > stored.last_at, incoming.last_at), else_=stored.last_at)})


def count_rejection(runtime: Runtime, connection_id: int, reason: str, at: datetime) -> None:
    """Count one refused delivery of connection `connection_id` in the hour of `at` under `reason` (one outside
    REASONS counts as `other`), in a short transaction of its own. An unknown connection is not counted; a
    failure is logged and swallowed, so the refusal is answered as it would be without it."""
    code = reason if reason in REASONS else "other"
    try:
        with runtime.uow() as uow:
            dialect = uow.session.get_bind().dialect.name
            uow.session.execute(_upsert(dialect, connection_id, hour_of(at), code, at))
            uow.commit()
    except Exception as exc:  # a count must never change the answer to the CRM
        log.warning("could not count a refused webhook delivery of connection %s (%s): %s", connection_id, code,
                    type(exc).__name__)


def _since(runtime: Runtime, hours: int) -> datetime:
    """The start of the window of the last `hours` UTC hours, the current one included."""
    return hour_of(runtime.clock()) - timedelta(hours=hours - 1)


def _rejections(session: Session, connection_id: int, since: datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WebhookRejection.reason, func.sum(WebhookRejection.count), func.max(WebhookRejection.last_at))
        .where(WebhookRejection.connection_id == connection_id, WebhookRejection.hour >= since)
        .group_by(WebhookRejection.reason)).all()
    found = [{"reason": reason, "count": int(count or 0), "last_at": _utc(last)} for reason, count, last in rows]
    return sorted(found, key=lambda r: (-r["count"], r["reason"]))


def _last_sync(session: Session, connection_id: int) -> dict[str, Any] | None:
    run = session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)
                          .order_by(SyncRun.queued_at.desc(), SyncRun.id.desc()).limit(1)).first()
    if run is None:
        return None
    return {"id": run.id, "status": run.status, "queued_at": run.queued_at, "started_at": run.started_at,
            "finished_at": run.finished_at, "error": run.last_error}


def _health(session: Session, connection_id: int, hours: int, since: datetime) -> dict[str, Any]:
    deliveries = session.execute(
        select(func.max(WebhookDelivery.received_at),
               func.count().filter(WebhookDelivery.received_at >= since))
        .where(WebhookDelivery.connection_id == connection_id)).one()
    events = session.execute(
        select(func.max(InboundEvent.received_at), func.count().filter(InboundEvent.received_at >= since))
        .where(InboundEvent.connection_id == connection_id)).one()
    rejections = _rejections(session, connection_id, since)
    last_sync = _last_sync(session, connection_id)
    rejected = sum(r["count"] for r in rejections)
    hint = None
    if deliveries[0] is None and events[0] is None and last_sync is None and not rejected:
        hint = "nothing_received"
    elif rejected and not deliveries[1]:
        hint = "only_refused"
    return {
        "connection_id": connection_id, "hours": hours, "since": since,
        "last_delivery_at": _utc(deliveries[0]), "last_event_at": _utc(events[0]),
        "deliveries": int(deliveries[1] or 0), "events": int(events[1] or 0),
        "rejected": rejected, "rejections": rejections, "last_sync": last_sync,
        "hint_code": hint, "hint": HINTS.get(hint or ""),
    }


def _utc(value: datetime | None) -> datetime | None:
    # Aggregates skip the column's type on some backends: SQLite gives the stored text's naive datetime.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def webhook_health(runtime: Runtime, connection_id: int, hours: int = 24) -> dict[str, Any]:
    """What reached Qualify from the connection's CRM in the last `hours` UTC hours (the current one included):
    accepted deliveries (those that brought a new event) and events, refusals by reason, the last accepted
    delivery and event ever, the last sync run, and a hint when nothing arrives or everything is refused.
    NotFoundError for an unknown connection."""
    since = _since(runtime, hours)
    with runtime.read_uow() as uow:
        get_or_404(uow.session, Connection, connection_id, "Connection")
        return _health(uow.session, connection_id, hours, since)


def connections_health(runtime: Runtime, hours: int = 24) -> dict[str, Any]:
    """Every connection by id with its CRM, whether it is active, its last accepted delivery and how many
    deliveries were refused in the last `hours` UTC hours (the current one included)."""
    since = _since(runtime, hours)
    with runtime.read_uow() as uow:
        session = uow.session
        last = {cid: at for cid, at in session.execute(
            select(WebhookDelivery.connection_id, func.max(WebhookDelivery.received_at))
            .group_by(WebhookDelivery.connection_id))}
        refused = {cid: n for cid, n in session.execute(
            select(WebhookRejection.connection_id, func.sum(WebhookRejection.count))
            .where(WebhookRejection.hour >= since).group_by(WebhookRejection.connection_id))}
        items = [{"id": c.id, "name": c.name, "kind": c.kind, "crm": kind_of(c.kind).title, "active": c.active,
                  "last_delivery_at": _utc(last.get(c.id)), "rejected": int(refused.get(c.id) or 0)}
                 for c in session.scalars(select(Connection).order_by(Connection.id))]
    return {"hours": hours, "since": since, "items": items}


def connection_wizard(runtime: Runtime, connection_id: int, request_base: str, *, test: bool = False,
                      hours: int = 24) -> dict[str, Any]:
    """What the setup page of a connection shows: the connection (no secrets), the webhook URL to paste into
    the CRM (None until QUALIFY_PUBLIC_URL is set in production), its webhook health and, with `test`, the
    checks of testing it now (connection_test.check_connection). NotFoundError for an unknown connection."""
    since = _since(runtime, hours)
    with runtime.read_uow() as uow:
        row = get_or_404(uow.session, Connection, connection_id, "Connection")
        connection = {"id": row.id, "name": row.name, "kind": row.kind, "crm": kind_of(row.kind).title,
                      "active": row.active, "account_id": row.account_id}
        url = webhook_url(runtime, row, request_base)
        health = _health(uow.session, connection_id, hours, since)
    checks = check_connection(runtime, connection_id, request_base) if test else None
    return {"connection": connection, "webhook_url": url, "health": health, "checks": checks}
