"""What happens when a deal is seen in the CRM (from a webhook or from sync): upsert the record, detect a
stage move, tell Qualify's own reverts (echoes) from a manager's move, decide the move, and queue what must
happen in the CRM: a revert and a task for the owner. All of it in the caller's transaction.

Webhooks and sync share this, so a move found by sync is decided exactly like one a webhook reported: same
decision, same outbox actions, same echo suppression.

    observe ─► detect the move ─► echo? ─► gate_move: decide (gate_policy) ─► Transition
                                                        └─► OutboxAction revert_stage + ExpectedRevert (echoes)
                                                        └─► OutboxAction create_task
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import DealSnapshot
from adapters.registry import kind_of
from schemas.decisions import issue_view
from service import metrics
from service.domain.issues import Decision, Outcome, Reason
from service.domain.messages import task_text
from service.domain.pipeline import GateMode, StageRef
from service.models import ActionStatus, Connection, OutboxAction, Record, Transition
from service.runtime import Runtime
from service.services import echoes, win_models
from service.services.deals import (
    apply_snapshot,
    find_record,
    first_stage,
    mapped_fields,
    pipeline_of_stage,
    stage_label,
)
from service.services.gate_policy import decide
from service.services.scoring import score_records

TASK_DUE_HOURS = 24


@dataclass(frozen=True)
class Observation:
    """A deal as the CRM showed it, with what is known about the change that led there."""

    snapshot: DealSnapshot
    seen_at: datetime  # when the CRM says it happened (event time), or when sync read it
    origin: str  # webhook | sync
    new_stage: str | None = None  # the stage the event reported, for echo detection
    old_stage: str | None = None  # the previous stage, where the CRM's event carries it
    old_pipeline: str | None = None
    source: str = "unknown"  # ui | api | automation | import | unknown
    change_source: str | None = None
    actor: str | None = None
    event_id: int | None = None
    audit_only: bool = False  # decide and record, but take no action (old moves found by sync)


class Seen(StrEnum):
    """What an observation turned out to be."""

    NO_STAGE = "no_stage"  # the deal has no stage: nothing to gate
    OUTDATED = "outdated"  # older than the last stage change already applied
    ECHO = "echo"  # Qualify's own revert coming back
    UNCHANGED = "unchanged"  # the stage did not change
    REVERT_QUEUED = "revert_queued"  # a revert of this very move is already queued
    GATED = "gated"  # a move, decided and recorded

    @property
    def acted_on(self) -> bool:
        """Whether the observation changed what Qualify knows of the deal's stage (else it is ignored)."""
        return self not in (Seen.NO_STAGE, Seen.OUTDATED, Seen.ECHO)


@dataclass(frozen=True)
class Observed:
    """The outcome of one observation: what it was, a note for the event log, and the record."""

    seen: Seen
    note: str
    record: Record


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
    through: str = "unknown"  # how the move was made: ui | api | automation | import | integration | unknown


def observe(runtime: Runtime, session: Session, connection: Connection, obs: Observation,
            mapping: list[Any] | None = None) -> Observed:
    """Upsert the record, score it, and gate a detected move (queuing its CRM actions)."""
    snapshot = obs.snapshot
    record = find_record(session, connection.id, snapshot.id, lock=True)
    previous = (record.pipeline_external_id, record.stage_external_id) if record else None
    last_change = record.stage_changed_at if record else None
    record = apply_snapshot(session, connection, record, snapshot,
                            mapping if mapping is not None else mapped_fields(session, connection.id))
    session.flush()
    score_records(session, [(record.id, record.values or {})], runtime.clock(), runtime.settings.persona_floor)
    seen, note = _detect_and_gate(runtime, session, connection, obs, record, previous, last_change)
    return Observed(seen, note, record)


def _detect_and_gate(runtime: Runtime, session: Session, connection: Connection, obs: Observation,
                     record: Record, previous: tuple[str | None, str | None] | None,
                     last_change: datetime | None) -> tuple[Seen, str]:
    snapshot, now = obs.snapshot, runtime.clock()
    current_stage, current_pipeline = snapshot.stage_id, snapshot.pipeline_id
    if current_stage is None or current_pipeline is None:
        return Seen.NO_STAGE, "the deal has no stage"
    changed_at = snapshot.stage_history[0].at if snapshot.stage_history else obs.seen_at
    if last_change is not None and max(obs.seen_at, changed_at) < last_change:
        return Seen.OUTDATED, "older than the last stage change already applied"
    source = source_stage(session, connection.id, snapshot, previous)
    if source is None and obs.old_stage:
        source = StageRef(obs.old_pipeline or pipeline_of_stage(session, connection.id, obs.old_stage)
                          or current_pipeline, obs.old_stage)
    current = StageRef(current_pipeline, current_stage)
    # Only a real stage change moves this clock: sync also observes deals whose stage did not change.
    moved_at = max(filter(None, (last_change, changed_at, obs.seen_at)))
    if _is_echo(session, connection.id, obs, now):
        echoed = str(obs.new_stage)
        source = StageRef(pipeline_of_stage(session, connection.id, echoed) or current_pipeline, echoed)
        record.pipeline_external_id, record.stage_external_id = source.pipeline_id, source.stage_id
        record.stage_changed_at = moved_at
        if source == current:
            return Seen.ECHO, "echo of Qualify's own revert"
        # The deal moved again after our revert: gate that newer move from the reverted stage.
    if source == current:
        record.pipeline_external_id, record.stage_external_id = current_pipeline, current_stage
        return Seen.UNCHANGED, "no stage change since the last event"
    record.stage_changed_at = moved_at
    if pending_revert_of(session, record, current_stage) is not None:
        return Seen.REVERT_QUEUED, "a revert of this move is already queued"
    latest = snapshot.stage_history[0] if snapshot.stage_history else None
    actor = latest.source_id if latest else obs.actor
    through = latest.source if latest and latest.source != "unknown" else obs.source
    move = Move(source=source, target=current, occurred_at=changed_at, actor=actor,
                change_source=obs.change_source or through, origin=obs.origin, event_id=obs.event_id,
                through=through)
    transition = gate_move(runtime, session, connection, record, move, audit_only=obs.audit_only)
    runtime.wake_worker()
    return Seen.GATED, f"{transition.decision}: {transition.message}"[:1000]


def _is_echo(session: Session, connection_id: int, obs: Observation, now: datetime) -> bool:
    """Whether the observation is Qualify's own revert coming back: not made in the CRM UI, and into
    the stage an unexpired expected-revert record names (which it then consumes)."""
    if obs.source == "ui" or not obs.new_stage:
        return False
    return echoes.consume(session, connection_id, obs.snapshot.id, obs.new_stage, now)


def source_stage(session: Session, connection_id: int, snapshot: DealSnapshot,
                 previous: tuple[str | None, str | None] | None) -> StageRef | None:
    """Where the deal came from: the stage Qualify last recorded, else the CRM's stage history."""
    if previous and previous[1]:
        return StageRef(previous[0] or snapshot.pipeline_id or "", previous[1])
    if len(snapshot.stage_history) > 1:
        stage_id = snapshot.stage_history[1].stage_id
        return StageRef(pipeline_of_stage(session, connection_id, stage_id) or snapshot.pipeline_id or "", stage_id)
    return None


def pending_revert_of(session: Session, record: Record, blocked_stage: str) -> OutboxAction | None:
    """A not-yet-delivered revert that already undoes a move into `blocked_stage`."""
    actions = session.scalars(
        select(OutboxAction).where(
            OutboxAction.record_id == record.id, OutboxAction.kind == "revert_stage",
            OutboxAction.status.in_((ActionStatus.PENDING, ActionStatus.IN_FLIGHT)),
        )
    )
    return next((a for a in actions if a.payload.get("blocked_stage") == blocked_stage), None)


def _strictest_mode(decision: Decision) -> str | None:
    modes = {i.mode for i in decision.issues}
    for mode in (GateMode.ENFORCE, GateMode.WARN, GateMode.AUDIT):
        if mode in modes:
            return str(mode)
    return None


def gate_move(runtime: Runtime, session: Session, connection: Connection, record: Record, move: Move, *,
              audit_only: bool = False) -> Transition:
    """Decide the move, write the transition, outbox actions and expected revert; returns the transition.

    Sets the record's stage to where the deal will be once Qualify's actions are delivered. With
    `audit_only` a failing move is recorded as `audited` and nothing is done in the CRM.
    """
    now = runtime.clock()
    decision = decide(runtime, session, connection, move.source, move.target, record.values or {},
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
        actor=move.actor, mover_user_id=kind_of(connection.kind).actor_user_id(move.actor), mover_kind=move.through,
        owner_id=record.owner_external_id, too_old=audit_only, required_fields=decision.required,
        stages_passed=len(decision.gated_stages),
        unfilled_fields=sum(1 for issue in decision.issues if issue.reason is not Reason.PERSONA),
        source=move.origin, change_source=move.change_source, direction=str(decision.direction),
        decision=str(decision.outcome), mode=_strictest_mode(decision),
        issues=[issue_view(i) for i in decision.issues], message=decision.message, action=action,
    )
    session.add(transition)
    session.flush()
    metrics.decision_made(str(decision.outcome), move.origin)
    final = revert_to or move.target
    record.pipeline_external_id, record.stage_external_id = final.pipeline_id, final.stage_id
    if revert_to is None:
        win_models.record_closed(session, record, now)  # a deal won or lost feeds its pipeline's win model
    if revert_to:
        _queue_revert(session, connection, record, transition, move.target, revert_to, now)
        echoes.expect(session, connection.id, record.external_id, revert_to.stage_id, revert_to.pipeline_id,
                      now + timedelta(seconds=runtime.settings.expected_revert_ttl_seconds))
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
                  blocked: StageRef, revert_to: StageRef, now: datetime) -> None:
    payload: dict[str, Any] = {
        "deal_id": record.external_id, "blocked_stage": blocked.stage_id, "blocked_pipeline": blocked.pipeline_id,
        "stage": revert_to.stage_id, "pipeline": revert_to.pipeline_id,
    }
    session.add(OutboxAction(
        connection_id=connection.id, record_id=record.id, transition_id=transition.id, kind="revert_stage",
        payload=payload, idempotency_key=f"{connection.id}:{record.external_id}:revert:{transition.id}",
        next_attempt_at=now,
    ))


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
