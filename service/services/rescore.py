"""Background rescoring of all open records, in batches with a commit each (never a long lock on
records): queued when a persona changes, nightly by the scheduler, or by `qualify rescore`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from service import metrics
from service.errors import InvalidInputError
from service.models import Persona, Pipeline, Record, RescoreRun, RunStatus, Stage
from service.runtime import Runtime
from service.services.common import error_text, get_or_404
from service.services.rescore_pool import PooledRescore
from service.services.scoring import persona_set, score_records

log = logging.getLogger("qualify.rescore")

Progress = Callable[[RescoreRun], None]


def run_view(run: RescoreRun) -> dict[str, Any]:
    """The API view of a rescore run with its progress in percent."""
    progress = 100.0 if run.status == RunStatus.DONE else (100.0 * run.done / run.total if run.total else 0.0)
    return {"id": run.id, "persona_id": run.persona_id, "trigger": run.trigger, "status": run.status,
            "total": run.total, "done": run.done, "progress": round(min(progress, 100.0), 1),
            "queued_at": run.queued_at, "started_at": run.started_at, "finished_at": run.finished_at,
            "last_error": run.last_error}


def request_rescore(session: Session, persona_id: int | None, *, trigger: str, now: datetime) -> RescoreRun:
    """Queue a rescore for one persona (None: all personas) in the session's transaction. A queued run
    that already covers it is returned instead of a second one."""
    queued = list(session.scalars(select(RescoreRun).where(RescoreRun.status == RunStatus.QUEUED)))
    for run in queued:
        if run.persona_id is None or run.persona_id == persona_id:
            return run
    run = RescoreRun(persona_id=persona_id, trigger=trigger, status=RunStatus.QUEUED, queued_at=now)
    session.add(run)
    session.flush()
    return run


def queue_rescore(runtime: Runtime, persona: int | str | None, *, trigger: str) -> dict[str, Any]:
    """Queue a rescore of every open record for one persona (by id, or by id or exact name as text) or for
    all (None), and wake the worker; an already queued run covering it is returned instead. NotFoundError
    for an unknown persona id, InvalidInputError for an unknown name."""
    with runtime.uow() as uow:
        persona_id = None if persona is None else find_persona(uow.session, persona).id
        run = request_rescore(uow.session, persona_id, trigger=trigger, now=runtime.clock())
        uow.commit()
        view = run_view(run)
    runtime.wake_worker()
    return view


def rescore_now(runtime: Runtime, persona: str | None, progress: Progress | None = None) -> dict[str, Any]:
    """Rescore every open record for one persona (id or exact name) or all (None) in this process; returns
    the finished run (status done or failed). InvalidInputError for an unknown persona."""
    run_id = queue_rescore(runtime, persona, trigger="cli")["id"]
    start_run(runtime, run_id)
    return run_view(execute_rescore(runtime, run_id, progress))


def find_persona(session: Session, ident: int | str) -> Persona:
    """A persona by id, or by id or exact name given as text; NotFoundError / InvalidInputError if none."""
    if isinstance(ident, int):
        return get_or_404(session, Persona, ident, "Persona")
    row = session.get(Persona, int(ident)) if ident.isdigit() else None
    row = row or session.scalars(select(Persona).where(Persona.name == ident)).first()
    if row is None:
        raise InvalidInputError(f"No persona with id or name {ident!r}.", {"persona": ["Unknown persona."]})
    return row


def queue_nightly_rescore(runtime: Runtime) -> RescoreRun | None:
    """Queue the day's full rescore once the nightly hour has come (None when not due or already queued)."""
    now = runtime.clock()
    if now.hour < runtime.settings.rescore_nightly_hour:
        return None
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with runtime.uow() as uow:
        done_today = uow.session.scalars(select(RescoreRun.id).where(
            RescoreRun.trigger == "nightly", RescoreRun.queued_at >= midnight)).first()
        if done_today is not None:
            return None
        run = RescoreRun(persona_id=None, trigger="nightly", status=RunStatus.QUEUED, queued_at=now)
        uow.session.add(run)
        uow.commit()
        return run


def rescore_history(runtime: Runtime, persona_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The latest rescore runs that covered a persona (its own and full ones), newest first; NotFoundError
    for an unknown persona."""
    query = select(RescoreRun).order_by(RescoreRun.id.desc()).limit(limit).where(
        or_(RescoreRun.persona_id == persona_id, RescoreRun.persona_id.is_(None)))
    with runtime.read_uow() as uow:
        get_or_404(uow.session, Persona, persona_id, "Persona")
        return [run_view(r) for r in uow.session.scalars(query)]


def open_records(after: int) -> Select[tuple[int, dict]]:  # type: ignore[type-arg]
    """Records to score, by id after `after`: not deleted and not in a won or lost stage.

    The closed stages are one uncorrelated subquery (a record is closed when its connection has a won or
    lost stage with the record's stage id, in any pipeline), so PostgreSQL hashes them once and reads
    records in id order, stopping at the batch's LIMIT, instead of probing stages per record."""
    closed = select(Pipeline.connection_id, Stage.external_id).join(Pipeline, Stage.pipeline_id == Pipeline.id) \
        .where(Stage.kind != "open")
    is_open = or_(Record.stage_external_id.is_(None),
                  tuple_(Record.connection_id, Record.stage_external_id).not_in(closed))
    return (select(Record.id, Record.values).where(Record.deleted.is_(False), is_open, Record.id > after)
            .order_by(Record.id))


def run_queued_rescores(runtime: Runtime, progress: Progress | None = None) -> int:
    """Run every queued rescore (and resume ones whose process died), oldest first; returns how many ran."""
    ran = 0
    while True:
        with runtime.uow() as uow:
            now = runtime.clock()
            stale = datetime.fromtimestamp(now.timestamp() - runtime.settings.rescore_stale_seconds, now.tzinfo)
            run = uow.session.scalars(select(RescoreRun).where(or_(
                RescoreRun.status == RunStatus.QUEUED,
                and_(RescoreRun.status == RunStatus.RUNNING, RescoreRun.started_at < stale),
            )).order_by(RescoreRun.id)).first()
            if run is None:
                return ran
            run_id = run.id
        start_run(runtime, run_id)
        execute_rescore(runtime, run_id, progress)
        ran += 1


def start_run(runtime: Runtime, run_id: int) -> None:
    """Mark a run running (counting the records to score when it starts fresh)."""
    with runtime.uow() as uow:
        run = uow.session.get_one(RescoreRun, run_id)
        if run.status == RunStatus.QUEUED:
            run.total = uow.session.scalar(select(func.count()).select_from(open_records(0).subquery())) or 0
        run.status, run.started_at = RunStatus.RUNNING, runtime.clock()
        uow.commit()


def execute_rescore(runtime: Runtime, run_id: int, progress: Progress | None = None) -> RescoreRun:
    """Score every open record in batches of `rescore_batch_size`, committing each with the run's progress;
    on PostgreSQL a run of more than one batch is scored by `rescore_workers` processes (rescore_pool)."""
    batch, workers = runtime.settings.rescore_batch_size, runtime.settings.rescore_workers
    try:
        if workers > 1 and runtime.engine.dialect.name == "postgresql":
            with runtime.uow() as uow:
                run = uow.session.get_one(RescoreRun, run_id)
                left = run.total - run.done
            if left > batch:  # worth starting worker processes for
                return PooledRescore(runtime, workers, open_records).run(run_id, progress)
        while True:
            with runtime.uow() as uow:
                now = runtime.clock()  # before reading: a newer score the worker writes meanwhile wins
                run = uow.session.get_one(RescoreRun, run_id)
                rows = uow.session.execute(open_records(run.last_record_id).limit(batch)).all()
                if not rows:
                    run.status, run.finished_at = RunStatus.DONE, runtime.clock()
                    uow.commit()
                    return run
                score_records(uow.session, [(rid, values or {}) for rid, values in rows], now,
                              runtime.settings.persona_floor, persona_set(uow.session))
                run.done += len(rows)
                run.last_record_id = rows[-1][0]
                uow.commit()
                metrics.rescored(len(rows))
            if progress is not None:
                progress(run)
    except Exception as exc:
        log.exception("rescore run %s failed", run_id)
        with runtime.uow() as uow:
            run = uow.session.get_one(RescoreRun, run_id)
            run.status, run.finished_at, run.last_error = RunStatus.FAILED, runtime.clock(), error_text(exc)
            uow.commit()
            return run
