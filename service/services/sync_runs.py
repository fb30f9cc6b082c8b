"""Sync runs of a connection: queued by the scheduler's interval, the API or the CLI; claimed and run one
at a time per connection (sync.execute_sync does the paging)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import ConflictError
from service.models import Connection, RunStatus, SyncRun
from service.models.statuses import ACTIVE_RUN
from service.runtime import Runtime
from service.services.common import get_or_404, row_view
from service.services.sync import Progress, execute_sync


def request_sync(session: Session, connection_id: int, *, full: bool, trigger: str, now: datetime,
                 stale_after: float = 900.0) -> SyncRun:
    """Queue a sync run in the session's transaction; NotFoundError for an unknown connection,
    ConflictError for a deactivated one or when a run is already queued or running. A run left `running`
    longer than `stale_after` seconds (its process died) is marked failed first: the cursor only ever moved
    with committed pages, so the next run resumes where that one stopped."""
    connection = get_or_404(session, Connection, connection_id, "Connection")
    if not connection.active:
        raise ConflictError(f"Connection {connection_id} is deactivated: resume it (PATCH active=true) to sync it.")
    active = session.scalars(
        select(SyncRun).where(SyncRun.connection_id == connection_id, SyncRun.status.in_(ACTIVE_RUN))
    ).first()
    if active is not None and active.status == RunStatus.RUNNING and active.started_at is not None \
            and (now - active.started_at).total_seconds() > stale_after:
        active.status, active.finished_at = RunStatus.FAILED, now
        active.last_error = "abandoned: the process running it stopped"
        active = None
    if active is not None:
        raise ConflictError(f"Sync run {active.id} of connection {connection_id} is {active.status}.")
    run = SyncRun(connection_id=connection_id, full=full, trigger=trigger, status=RunStatus.QUEUED, queued_at=now)
    session.add(run)
    session.flush()
    return run


def queue_sync(runtime: Runtime, connection_id: int, *, full: bool, trigger: str) -> dict[str, Any]:
    """Queue a sync run for the scheduler; NotFoundError, or ConflictError while one is queued or running."""
    with runtime.uow() as uow:
        run = request_sync(uow.session, connection_id, full=full, trigger=trigger, now=runtime.clock(),
                           stale_after=runtime.settings.sync_stale_seconds)
        uow.commit()
        return row_view(run)


def sync_now(runtime: Runtime, connection_id: int, *, full: bool, trigger: str,
             progress: Progress | None = None) -> dict[str, Any]:
    """Run a sync of one connection in this process and return the finished run (status done or failed);
    NotFoundError, or ConflictError while another run is queued or running."""
    with runtime.uow() as uow:
        run = request_sync(uow.session, connection_id, full=full, trigger=trigger, now=runtime.clock(),
                           stale_after=runtime.settings.sync_stale_seconds)
        run.status, run.started_at = RunStatus.RUNNING, runtime.clock()
        uow.commit()
        run_id = run.id
    return row_view(execute_sync(runtime, run_id, progress))


def sync_status(runtime: Runtime, connection_id: int, limit: int = 20) -> dict[str, Any]:
    """The running or queued sync of a connection, if any, and its latest runs, newest first."""
    with runtime.read_uow() as uow:
        get_or_404(uow.session, Connection, connection_id, "Connection")
        history = [row_view(r) for r in uow.session.scalars(
            select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.id.desc()).limit(limit))]
    current = next((r for r in history if r["status"] in ACTIVE_RUN), None)
    return {"current": current, "history": history}


def queue_due_syncs(runtime: Runtime) -> list[int]:
    """Queue a run for every active connection whose interval has passed; returns the run ids."""
    now = runtime.clock()
    queued: list[int] = []
    with runtime.uow() as uow:
        for connection in uow.session.scalars(select(Connection).where(Connection.active.is_(True))):
            due = connection.last_synced_at is None or (
                connection.last_synced_at + timedelta(seconds=connection.sync_interval_seconds) <= now)
            if not due:
                continue
            try:
                queued.append(request_sync(uow.session, connection.id, full=False, trigger="schedule", now=now,
                                           stale_after=runtime.settings.sync_stale_seconds).id)
            except ConflictError:
                continue
        uow.commit()
    return queued


def run_queued_syncs(runtime: Runtime, progress: Progress | None = None) -> int:
    """Run every queued sync, oldest first; returns how many ran."""
    ran = 0
    while True:
        with runtime.uow() as uow:
            run = uow.session.scalars(
                select(SyncRun).where(SyncRun.status == RunStatus.QUEUED).order_by(SyncRun.id)).first()
            if run is None:
                return ran
            run.status, run.started_at = RunStatus.RUNNING, runtime.clock()
            uow.commit()
            run_id = run.id
        execute_sync(runtime, run_id, progress)
        ran += 1
