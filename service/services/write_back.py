"""Writing the best fit (score, grade, persona name) back to configured CRM properties through the
outbox, only when a value changed. The CRM echoes the write as a webhook; the echo rescoring to the
same values queues nothing, so there is no loop."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.models import ActionStatus, Connection, OutboxAction, Persona, Record, RecordScore

WRITE_FIELDS = "write_fields"


def desired_values(config: Mapping[str, str | None], row: Mapping[str, Any],
                   names: Mapping[int, str]) -> dict[str, str]:
    """The CRM property values the row's best fit should show, for the configured properties."""
    persona = names.get(row["best_persona_id"], "") if row.get("best_persona_id") is not None else ""
    values = {"score": "" if row.get("best_score") is None else str(row["best_score"]),
              "grade": row.get("best_grade") or "", "persona": persona}
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


def queue_write_backs(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Queue a `write_fields` outbox action for every scored record whose CRM values would change;
    returns how many were queued."""
    configured = {c.id: c.score_write_back for c in session.scalars(select(Connection).where(
        Connection.active.is_(True))) if c.score_write_back}
    if not configured or not rows:
        return 0
    ids = [r["record_id"] for r in rows]
    targets = {rid: (cid, ext, written) for rid, cid, ext, written in session.execute(
        select(Record.id, Record.connection_id, Record.external_id, RecordScore.written)
        .join(RecordScore, RecordScore.record_id == Record.id)
        .where(Record.id.in_(ids), Record.connection_id.in_(list(configured))))}
    if not targets:
        return 0
    names: dict[int, str] = {pid: name for pid, name in session.execute(select(Persona.id, Persona.name))}
    queued = 0
    for row in rows:
        target = targets.get(row["record_id"])
        if target is None:
            continue
        connection_id, external_id, written = target
        wanted = desired_values(configured[connection_id], row, names)
        changed = {prop: value for prop, value in wanted.items() if (written or {}).get(prop) != value}
        if not changed:
            continue
        properties = {**_supersede_pending(session, row["record_id"], now), **changed}
        session.add(OutboxAction(
            connection_id=connection_id, record_id=row["record_id"], kind=WRITE_FIELDS,
            payload={"deal_id": external_id, "properties": properties},
            idempotency_key=f"{connection_id}:{external_id}:fields:{uuid.uuid4().hex}", next_attempt_at=now))
        session.execute(update(RecordScore).where(RecordScore.record_id == row["record_id"])
                        .values(written={**(written or {}), **changed}))
        queued += 1
    return queued
