"""Readiness and the stored state behind it: the database answers and carries the latest migration, a worker
beat recently, and no due work has waited too long. The same readings feed the gauges of /metrics.

Each reading is one small indexed query; on PostgreSQL they run under a short statement timeout, so a scrape
or a probe never queues behind a slow database for long.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from service.errors import ServiceError, StorageError
from service.migrate import current_revision, head_revision
from service.models import (
    ActionStatus,
    Connection,
    EventStatus,
    InboundEvent,
    OutboxAction,
    RescoreRun,
    RunStatus,
    WorkerHeartbeat,
)
from service.runtime import Runtime

STATEMENT_TIMEOUT_MS = 2000
FORGET_WORKERS_AFTER = timedelta(days=1)  # rows of worker processes gone this long are deleted


class NotReadyError(ServiceError):
    """A readiness check failed; `errors` names each failing check."""

    status = 503
    title = "Not ready"


@dataclass(frozen=True)
class Backlog:
    """Work waiting in the database, and how long the oldest has waited."""

    events: int  # received or processing
    oldest_ready_event_seconds: float | None  # since the oldest event ready to process became ready
    actions: int  # pending or in flight
    oldest_action_seconds: float | None  # since the oldest pending or in-flight action was created
    oldest_due_action_seconds: float | None  # since the oldest due action became due


@dataclass(frozen=True)
class Heartbeat:
    """The newest worker heartbeat and how many workers beat recently."""

    age_seconds: float | None  # None: no worker ever beat
    alive: int


@dataclass(frozen=True)
class SyncLag:
    """How far one active connection's sync is behind now."""

    connection_id: int
    crm: str
    since_sync_seconds: float | None  # since its last sync run finished
    since_cursor_seconds: float | None  # since the newest change its cursor has passed


@dataclass(frozen=True)
class RescoreProgress:
    """The background rescores queued or running."""

    active: int
    done: int
    total: int


def _seconds(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _quick(session: Session) -> Session:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    return session


def backlog(session: Session, now: datetime) -> Backlog:
    """The event and outbox backlogs."""
    waiting = InboundEvent.status.in_((EventStatus.RECEIVED, EventStatus.PROCESSING))
    events = session.scalar(select(func.count()).select_from(InboundEvent).where(waiting)) or 0
    ready_since = session.scalar(select(func.min(func.coalesce(InboundEvent.available_at, InboundEvent.received_at)))
                                 .where(InboundEvent.status == EventStatus.RECEIVED,
                                        or_(InboundEvent.available_at.is_(None), InboundEvent.available_at <= now)))
    open_actions = OutboxAction.status.in_((ActionStatus.PENDING, ActionStatus.IN_FLIGHT))
    actions, oldest = session.execute(select(func.count(), func.min(OutboxAction.created_at))
                                      .where(open_actions)).one()
    due_since = session.scalar(select(func.min(OutboxAction.next_attempt_at)).where(
        OutboxAction.status == ActionStatus.PENDING, OutboxAction.next_attempt_at <= now))
    return Backlog(events, _seconds(now, _aware(ready_since)), actions or 0, _seconds(now, _aware(oldest)),
                   _seconds(now, _aware(due_since)))


def _aware(value: Any) -> datetime | None:
    # min() over a coalesce loses the column type on SQLite: the value comes back as ISO text.
    if value is None or isinstance(value, datetime):
        return value
    from service.db import UTCDateTime

    return UTCDateTime().process_result_value(datetime.fromisoformat(str(value)), None)


def heartbeat(session: Session, now: datetime, stale_seconds: float) -> Heartbeat:
    """The newest heartbeat and how many workers beat within `stale_seconds`."""
    newest = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    alive = session.scalar(select(func.count()).select_from(WorkerHeartbeat).where(
        WorkerHeartbeat.beat_at >= now - timedelta(seconds=stale_seconds))) or 0
    return Heartbeat(_seconds(now, newest), alive)


def sync_lags(session: Session, now: datetime) -> list[SyncLag]:
    """The sync lag of every active connection."""
    rows = session.execute(select(Connection.id, Connection.kind, Connection.last_synced_at, Connection.sync_cursor)
                           .where(Connection.active.is_(True)).order_by(Connection.id))
    return [SyncLag(row.id, row.kind, _seconds(now, row.last_synced_at), _seconds(now, row.sync_cursor))
            for row in rows]


def rescore_progress(session: Session) -> RescoreProgress:
    """The progress of the queued and running rescores, together."""
    active, done, total = session.execute(
        select(func.count(), func.coalesce(func.sum(RescoreRun.done), 0), func.coalesce(func.sum(RescoreRun.total), 0))
        .where(RescoreRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))).one()
    return RescoreProgress(active or 0, int(done or 0), int(total or 0))


@dataclass(frozen=True)
class StoredState:
    """Every reading /metrics shows from the database."""

    backlog: Backlog
    heartbeat: Heartbeat
    sync: list[SyncLag]
    rescore: RescoreProgress


def stored_state(runtime: Runtime) -> StoredState:
    """Read the stored state (a read-only unit of work); raises whatever the database raises."""
    now = runtime.clock()
    with runtime.read_uow() as uow:
        session = _quick(uow.session)
        return StoredState(backlog(session, now),
                           heartbeat(session, now, runtime.settings.ready_heartbeat_seconds or 300.0),
                           sync_lags(session, now), rescore_progress(session))


def beat(runtime: Runtime, worker: str, started_at: datetime) -> None:
    """Write the heartbeat of worker `worker` (host:pid); the first beat of a process also forgets workers
    gone for a day."""
    now = runtime.clock()
    with runtime.uow() as uow:
        row = uow.session.get(WorkerHeartbeat, worker)
        if row is None:
            uow.session.execute(WorkerHeartbeat.__table__.delete().where(  # type: ignore[attr-defined]
                WorkerHeartbeat.beat_at < now - FORGET_WORKERS_AFTER))
            uow.session.add(WorkerHeartbeat(worker=worker, started_at=started_at, beat_at=now))
        else:
            row.beat_at = now
        uow.commit()


def worker_name() -> str:
    """This process's name in the heartbeat table."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def readiness(runtime: Runtime) -> dict[str, Any]:
    """The checks, all passed: the database answers at the latest migration, a worker beat within
    QUALIFY_READY_HEARTBEAT_SECONDS, no ready event or due action has waited over QUALIFY_READY_BACKLOG_SECONDS
    (a limit of 0 skips its check). StorageError when the database does not answer or is not migrated;
    NotReadyError naming every failing check otherwise."""
    settings, now = runtime.settings, runtime.clock()
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = current_revision(conn)
    except Exception:
        raise StorageError("The database does not answer.") from None
    if current != head_revision():
        raise StorageError(f"Database at migration {current}, expected {head_revision()}.")
    checks = {"database": "ok", "migration": str(current)}
    failed: dict[str, list[str]] = {}
    with runtime.read_uow() as uow:
        session = _quick(uow.session)
        if settings.ready_heartbeat_seconds > 0:
            beat_ = heartbeat(session, now, settings.ready_heartbeat_seconds)
            checks["worker"] = _worker_check(beat_, settings.ready_heartbeat_seconds, failed)
        if settings.ready_backlog_seconds > 0:
            checks["backlog"] = _backlog_check(backlog(session, now), settings.ready_backlog_seconds, failed)
    if failed:
        raise NotReadyError(f"Not ready: {', '.join(failed)} failed.", errors=failed)
    return {"status": "ok", "checks": checks}


def _worker_check(beat_: Heartbeat, limit: float, failed: dict[str, list[str]]) -> str:
    if beat_.age_seconds is None:
        failed["worker"] = ["no worker has written a heartbeat yet"]
    elif beat_.age_seconds > limit:
        failed["worker"] = [f"the newest worker heartbeat is {beat_.age_seconds:.0f} s old (limit {limit:.0f} s)"]
    return f"ok: {beat_.alive} alive, newest heartbeat {beat_.age_seconds or 0:.0f} s ago"


def _backlog_check(found: Backlog, limit: float, failed: dict[str, list[str]]) -> str:
    problems = [f"the oldest ready {what} has waited {age:.0f} s (limit {limit:.0f} s)"
                for what, age in (("event", found.oldest_ready_event_seconds),
                                  ("outbox action", found.oldest_due_action_seconds))
                if age is not None and age > limit]
    if problems:
        failed["backlog"] = problems
    return f"ok: {found.events} events, {found.actions} actions waiting"
