"""Applying one observed state of a deal (from a webhook or from sync): upsert, detect the move, gate it.

Webhooks and sync share this, so a move found by sync is decided exactly like one a webhook
reported: same decision, same outbox actions, same echo suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from adapters.base import DealSnapshot
from service.domain.gating import StageRef
from service.models import Connection, Record
from service.runtime import Runtime
from service.services.deals import apply_snapshot, find_record, mapped_fields, pipeline_of_stage
from service.services.fit_gate import requirements_for
from service.services.gatekeeping import Move, consume_expected_revert, gate_move, pending_revert_of
from service.services.policy import gatekeeper_for
from service.services.scoring import score_records


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


def observe(runtime: Runtime, session: Session, connection: Connection, obs: Observation,
            mapping: list[Any] | None = None) -> tuple[str, str | None, Record]:
    """Upsert the record and gate a detected move; returns (event status, note, record)."""
    snapshot = obs.snapshot
    record = find_record(session, connection.id, snapshot.id, lock=True)
    previous = (record.pipeline_external_id, record.stage_external_id) if record else None
    last_change = record.stage_changed_at if record else None
    record = apply_snapshot(session, connection, record, snapshot,
                            mapping if mapping is not None else mapped_fields(session, connection.id))
    session.flush()
    score_records(session, [(record.id, record.values or {})], runtime.clock(), runtime.settings.persona_floor)
    status, note = _detect_and_gate(runtime, session, connection, obs, record, previous, last_change)
    return status, note, record


def _detect_and_gate(runtime: Runtime, session: Session, connection: Connection, obs: Observation,
                     record: Record, previous: tuple[str | None, str | None] | None,
                     last_change: datetime | None) -> tuple[str, str | None]:
    snapshot, now = obs.snapshot, runtime.clock()
    current_stage, current_pipeline = snapshot.stage_id, snapshot.pipeline_id
    if current_stage is None or current_pipeline is None:
        return "ignored", "the deal has no stage"
    changed_at = snapshot.stage_history[0].at if snapshot.stage_history else obs.seen_at
    if last_change is not None and max(obs.seen_at, changed_at) < last_change:
        return "ignored", "older than the last stage change already applied"
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
            return "ignored", "echo of Qualify's own revert"
        # The deal moved again after our revert: gate that newer move from the reverted stage.
    if source == current:
        record.pipeline_external_id, record.stage_external_id = current_pipeline, current_stage
        return "done", "no stage change since the last event"
    record.stage_changed_at = moved_at
    if pending_revert_of(session, record, current_stage) is not None:
        return "done", "a revert of this move is already queued"
    actor = snapshot.stage_history[0].source_id if snapshot.stage_history else obs.actor
    move = Move(source=source, target=current, occurred_at=changed_at, actor=actor,
                change_source=obs.change_source or obs.source, origin=obs.origin, event_id=obs.event_id)
    keeper = gatekeeper_for(runtime, session, connection)
    transition = gate_move(session, connection, keeper, record, move, now,
                           runtime.settings.expected_revert_ttl_seconds, audit_only=obs.audit_only,
                           fit_requirements=requirements_for(runtime, session, connection))
    runtime.wake_worker()
    return "done", f"{transition.decision}: {transition.message}"[:1000]


def _is_echo(session: Session, connection_id: int, obs: Observation, now: datetime) -> bool:
    """Whether the observation is Qualify's own revert coming back: not made in the CRM UI, and into
    the stage an unexpired expected-revert record names (which it then consumes)."""
    if obs.source == "ui" or not obs.new_stage:
        return False
    return consume_expected_revert(session, connection_id, obs.snapshot.id, obs.new_stage, now)


def source_stage(session: Session, connection_id: int, snapshot: DealSnapshot,
                 previous: tuple[str | None, str | None] | None) -> StageRef | None:
    """Where the deal came from: the stage Qualify last recorded, else the CRM's stage history."""
    if previous and previous[1]:
        return StageRef(previous[0] or snapshot.pipeline_id or "", previous[1])
    if len(snapshot.stage_history) > 1:
        stage_id = snapshot.stage_history[1].stage_id
        return StageRef(pipeline_of_stage(session, connection_id, stage_id) or snapshot.pipeline_id or "", stage_id)
    return None
