"""Deciding a detected stage move and queuing what must happen in the CRM, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.gating import Decision, Gatekeeper, GateMode, Outcome, StageRef
from service.domain.messages import task_text
from service.models import Connection, ExpectedRevert, OutboxAction, Record, Transition
from service.services.check import issue_view
from service.services.deals import first_stage, stage_label
from service.services.fit_gate import Requirements, check_fit, relevant

TASK_DUE_HOURS = 24


@dataclass(frozen=True)
class Move:
    """A stage move observed on a deal."""

    source: StageRef | None
    target: StageRef
    occurred_at: datetime
    actor: str | None
    change_source: str | None
    origin: str  # webhook | sync | replay
    event_id: int | None = None


def _strictest_mode(decision: Decision) -> str | None:
    modes = {i.mode for i in decision.issues}
    for mode in (GateMode.ENFORCE, GateMode.WARN, GateMode.AUDIT):
        if mode in modes:
            return str(mode)
    return None


def pending_revert_of(session: Session, record: Record, blocked_stage: str) -> OutboxAction | None:
    """A not-yet-delivered revert that already undoes a move into `blocked_stage`."""
    actions = session.scalars(
        select(OutboxAction).where(
            OutboxAction.record_id == record.id, OutboxAction.kind == "revert_stage",
            OutboxAction.status.in_(("pending", "in_flight")),
        )
    )
    return next((a for a in actions if a.payload.get("blocked_stage") == blocked_stage), None)


def gate_move(session: Session, connection: Connection, keeper: Gatekeeper, record: Record, move: Move,
              now: datetime, revert_ttl: int, *, audit_only: bool = False,
              fit_requirements: Requirements | None = None) -> Transition:
    """Decide the move, write the transition, outbox actions and expected revert; returns the transition.

    Sets the record's stage to where the deal will be once Qualify's actions are delivered. With
    `audit_only` a failing move is recorded as `audited` and nothing is done in the CRM.
    """
    decision = keeper.decide(move.source, move.target, record.values, connection.language)
    needed = relevant(fit_requirements or {}, decision, move.target)
    if needed:
        decision = check_fit(session, connection.id, decision, move.target, record.values or {}, needed,
                             connection.language, now.date())
    if audit_only and decision.outcome is not Outcome.ALLOWED:
        decision = replace(decision, outcome=Outcome.AUDITED)
    revert_to = _revert_target(session, connection, move) if decision.outcome is Outcome.BLOCKED else None
    action = {Outcome.BLOCKED: "revert+task" if revert_to else "task", Outcome.WARNED: "task"}.get(
        decision.outcome, "none")
    transition = Transition(
        connection_id=connection.id, record_id=record.id, event_id=move.event_id,
        from_pipeline=move.source.pipeline_id if move.source else None,
        from_stage=move.source.stage_id if move.source else None,
        to_pipeline=move.target.pipeline_id, to_stage=move.target.stage_id, occurred_at=move.occurred_at,
        actor=move.actor, source=move.origin, change_source=move.change_source, direction=str(decision.direction),
        decision=str(decision.outcome), mode=_strictest_mode(decision),
        issues=[issue_view(i) for i in decision.issues], message=decision.message, action=action,
    )
    session.add(transition)
    session.flush()
    final = revert_to or move.target
    record.pipeline_external_id, record.stage_external_id = final.pipeline_id, final.stage_id
    if revert_to:
        _queue_revert(session, connection, record, transition, move.target, revert_to, now, revert_ttl)
    if action != "none":
        _queue_task(session, connection, record, transition, decision, move.target, revert_to, now)
    return transition


def _revert_target(session: Session, connection: Connection, move: Move) -> StageRef | None:
    if move.source is not None:
        return move.source
    first = first_stage(session, connection.id, move.target.pipeline_id)
    if first is None or first == move.target.stage_id:
        return None
    return StageRef(move.target.pipeline_id, first)


def _queue_revert(session: Session, connection: Connection, record: Record, transition: Transition,
                  blocked: StageRef, revert_to: StageRef, now: datetime, ttl: int) -> None:
    payload: dict[str, Any] = {
        "deal_id": record.external_id, "blocked_stage": blocked.stage_id, "blocked_pipeline": blocked.pipeline_id,
        "stage": revert_to.stage_id, "pipeline": revert_to.pipeline_id,
    }
    session.add(OutboxAction(
        connection_id=connection.id, record_id=record.id, transition_id=transition.id, kind="revert_stage",
        payload=payload, idempotency_key=f"{connection.id}:{record.external_id}:revert:{transition.id}",
        next_attempt_at=now,
    ))
    session.add(ExpectedRevert(connection_id=connection.id, external_id=record.external_id,
                               stage_id=revert_to.stage_id, pipeline_id=revert_to.pipeline_id,
                               expires_at=now + timedelta(seconds=ttl)))


def _queue_task(session: Session, connection: Connection, record: Record, transition: Transition,
                decision: Decision, target: StageRef, revert_to: StageRef | None, now: datetime) -> None:
    key = f"{connection.id}:{record.external_id}:task:{transition.id}"
    reverted_label = None
    if revert_to is not None:
        reverted_label = stage_label(session, connection.id, revert_to.pipeline_id, revert_to.stage_id)
    due = (now + timedelta(hours=TASK_DUE_HOURS)).isoformat()
    subject, body = task_text(
        record.name, stage_label(session, connection.id, target.pipeline_id, target.stage_id),
        decision.issues, connection.language, reverted_label,
    )
    session.add(OutboxAction(
        connection_id=connection.id, record_id=record.id, transition_id=transition.id, kind="create_task",
        payload={"deal_id": record.external_id, "owner_id": record.owner_external_id, "subject": subject,
                 "body": body, "marker": f"qualify-ref:{key}", "due": due},
        idempotency_key=key, next_attempt_at=now,
    ))


def consume_expected_revert(session: Session, connection_id: int, external_id: str, stage_id: str,
                            now: datetime) -> bool:
    """Mark the matching live expected revert consumed; True if there was one."""
    row = session.scalars(
        select(ExpectedRevert).where(
            ExpectedRevert.connection_id == connection_id, ExpectedRevert.external_id == external_id,
            ExpectedRevert.stage_id == stage_id, ExpectedRevert.consumed_at.is_(None),
            ExpectedRevert.expires_at > now,
        ).order_by(ExpectedRevert.id)
    ).first()
    if row is None:
        return False
    row.consumed_at = now
    return True
