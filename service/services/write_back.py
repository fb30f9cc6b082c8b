"""Writing the best fit (score, grade, persona name) and the win probability back to configured CRM properties
through the outbox, only when a value changed. The CRM echoes the write as a webhook; the echo rescoring to the
same values queues nothing, so there is no loop."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.models import (
    ActionStatus,
    Connection,
    OutboxAction,
    Persona,
    Pipeline,
    Record,
    RecordScore,
    Stage,
)
from service.runtime import Runtime
from service.services.win_percents import win_percents

WRITE_FIELDS = "write_fields"
WIN = "win_probability"
BATCH = 1000  # open deals per transaction when a rebuilt model is written back


def desired_values(config: Mapping[str, str | None], row: Mapping[str, Any],
                   names: Mapping[int, str], win: str = "") -> dict[str, str]:
    """The CRM property values the row's best fit (and `win`, its win probability in percent, "" for none) should
    show, for the configured properties."""
    persona = names.get(row["best_persona_id"], "") if row.get("best_persona_id") is not None else ""
    values = {"score": "" if row.get("best_score") is None else str(row["best_score"]),
              "grade": row.get("best_grade") or "", "persona": persona, WIN: win}
    return {prop: values[name] for name, prop in config.items() if prop}


def _supersede_pending(session: Session, record_id: int, now: datetime) -> dict[str, str]:
    """Retire the record's undelivered writes (a later write must not be overtaken by an older retry);
    returns their properties, which the new write carries unless it changes them."""
    carried: dict[str, str] = {}
    for action in session.scalars(select(OutboxAction).where(
            OutboxAction.record_id == record_id, OutboxAction.kind == WRITE_FIELDS,
            OutboxAction.status == ActionStatus.PENDING).order_by(OutboxAction.id)):
        carried.update(action.payload.get("properties") or {})
        action.status, action.done_at, action.note = ActionStatus.DONE, now, "superseded by a newer write"
    return carried


def forget_written(session: Session, record_id: int | None, properties: Sequence[str]) -> None:
    """Forget values whose write failed for good, so the next score change writes them again."""
    if record_id is None:
        return
    row = session.get(RecordScore, record_id)
    if row is not None:
        row.written = {k: v for k, v in (row.written or {}).items() if k not in properties}


def _queue(session: Session, target: tuple[int, int, str, dict[str, str] | None], wanted: Mapping[str, str],
           silent: Iterable[str], now: datetime) -> bool:
    """Queue one write of the `wanted` values that differ from what was last written to the record (a `silent`
    property's "" only once something was written to it); returns whether a write was queued."""
    record_id, connection_id, external_id, written = target
    written = written or {}
    changed = {prop: value for prop, value in wanted.items() if written.get(prop) != value
               and not (value == "" and prop in silent and prop not in written)}
    if not changed:
        return False
    properties = {**_supersede_pending(session, record_id, now), **changed}
    session.add(OutboxAction(
        connection_id=connection_id, record_id=record_id, kind=WRITE_FIELDS,
        payload={"deal_id": external_id, "properties": properties},
        idempotency_key=f"{connection_id}:{external_id}:fields:{uuid.uuid4().hex}", next_attempt_at=now))
    session.execute(update(RecordScore).where(RecordScore.record_id == record_id)
                    .values(written={**written, **changed}))
    return True


def _configured(session: Session) -> dict[int, dict[str, str]]:
    return {c.id: c.score_write_back for c in session.scalars(select(Connection).where(
        Connection.active.is_(True))) if c.score_write_back}


def _targets(session: Session, where: Any) -> dict[int, tuple[int, int, str, dict[str, str] | None]]:
    return {rid: (rid, cid, ext, written) for rid, cid, ext, written in session.execute(
        select(Record.id, Record.connection_id, Record.external_id, RecordScore.written)
        .join(RecordScore, RecordScore.record_id == Record.id).where(where).order_by(Record.id))}


def queue_write_backs(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Queue a `write_fields` outbox action for every scored record whose CRM values would change;
    returns how many were queued."""
    configured = _configured(session)
    if not configured or not rows:
        return 0
    targets = _targets(session, Record.id.in_([r["record_id"] for r in rows])
                       & Record.connection_id.in_(list(configured)))
    if not targets:
        return 0
    names: dict[int, str] = {pid: name for pid, name in session.execute(select(Persona.id, Persona.name))}
    wins = win_percents(session, [rid for rid, t in targets.items() if configured[t[1]].get(WIN)])
    queued = 0
    for row in rows:
        target = targets.get(row["record_id"])
        if target is None:
            continue
        config = configured[target[1]]
        wanted = desired_values(config, row, names, wins.get(row["record_id"], ""))
        queued += _queue(session, target, wanted, [config[WIN]] if config.get(WIN) else [], now)
    return queued


def queue_win_probabilities(runtime: Runtime, pipelines: Iterable[tuple[int, str]]) -> int:
    """Queue a write of the win probability for every open deal of the (connection id, pipeline) `pipelines`
    whose value changed, BATCH deals per transaction; returns how many writes were queued."""
    queued = 0
    for connection_id, pipeline in pipelines:
        last = 0
        while True:
            with runtime.uow() as uow:
                session = uow.session
                prop = (_configured(session).get(connection_id) or {}).get(WIN)
                if not prop:
                    break
                open_stages = select(Stage.external_id).join(Pipeline, Pipeline.id == Stage.pipeline_id).where(
                    Pipeline.connection_id == connection_id, Pipeline.external_id == pipeline, Stage.kind == "open")
                ids = list(session.scalars(select(Record.id).join(RecordScore, RecordScore.record_id == Record.id)
                                           .where(Record.connection_id == connection_id,
                                                  Record.pipeline_external_id == pipeline,
                                                  Record.stage_external_id.in_(open_stages),
                                                  Record.deleted.is_(False), Record.id > last)
                                           .order_by(Record.id).limit(BATCH)))
                if not ids:
                    break
                wins = win_percents(session, ids)
                now = runtime.clock()
                for rid, target in _targets(session, Record.id.in_(ids)).items():
                    queued += _queue(session, target, {prop: wins.get(rid, "")}, [prop], now)
                uow.commit()
                last = ids[-1]
    return queued
