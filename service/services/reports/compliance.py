"""Section 1, stage-gate compliance: per pipeline x stage x owner, the moves its gates applied to and what
Qualify decided, the moves that went around the gates, how long a blocked deal took to pass, the deals held
in front of a gate now, and the fields most often missing."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from service.domain.report_math import median, quantile, share
from service.models import Record, RecordScore, Transition
from service.services.reports.filters import ReportFilter, deals_in, moves_in, transition_owner

GATED = ("forward", "enter", "to_lost")  # directions a stage's gates apply to (backward and same: never)
AUTOMATED = ("api", "automation", "import", "integration")  # moves not made by a person in the CRM's UI
FIELD_REASONS = ("missing", "invalid", "unknown_field")


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _scope(query: Any, f: ReportFilter) -> Any:
    """`query` over transitions joined with their deal (and its score when the filters need it)."""
    query = query.join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    return query.where(moves_in(f))


def gated_moves(session: Session, f: ReportFilter) -> list[dict[str, Any]]:
    """One row per connection x pipeline x stage x owner with the moves into the stage its gates applied to:
    allowed, blocked (reverted), warned, audited, their share blocked, the moves around the gates (seen only by
    sync, made through the API/automation/import/an integration, too old to gate), and the fields the gates
    required on those moves and how many of them were not filled."""
    owner = transition_owner().label("owner")
    query = _scope(select(
        Transition.connection_id, Transition.to_pipeline, Transition.to_stage, owner,
        func.count().label("moves"),
        _count(Transition.decision == "allowed").label("allowed"),
        _count(Transition.decision == "blocked").label("blocked"),
        _count(Transition.decision == "warned").label("warned"),
        _count(and_(Transition.decision == "audited", Transition.too_old.is_(False))).label("audited"),
        _count(Transition.source == "sync").label("found_by_sync"),
        _count(Transition.mover_kind.in_(AUTOMATED)).label("automated"),
        _count(Transition.too_old.is_(True)).label("too_old"),
        func.sum(Transition.required_fields).label("required"),
        func.sum(Transition.unfilled_fields).label("unfilled"),
    ).select_from(Transition), f).where(Transition.direction.in_(GATED)).group_by(
        Transition.connection_id, Transition.to_pipeline, Transition.to_stage, owner)
    rows = []
    for r in session.execute(query):
        row = dict(r._mapping)
        row["blocked_share"] = share(row["blocked"], row["moves"])
        rows.append(row)
    return rows


def time_to_pass(session: Session, f: ReportFilter) -> dict[tuple[int, str | None, str, str | None], dict[str, Any]]:
    """For each connection x pipeline x stage x owner: how long deals blocked in the period took to enter the
    stage after all (hours from the block to the first later move into it that was not blocked; median and
    90th percentile of those that did), and how many did."""
    later = aliased(Transition)
    passed_at = select(func.min(later.occurred_at)).where(
        later.record_id == Transition.record_id, later.to_stage == Transition.to_stage,
        later.decision != "blocked", later.occurred_at > Transition.occurred_at,
    ).scalar_subquery()
    query = _scope(select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                          transition_owner().label("owner"), Transition.occurred_at, passed_at.label("passed_at"))
                   .select_from(Transition), f).where(Transition.decision == "blocked")
    hours: dict[tuple[int, str | None, str, str | None], list[float]] = defaultdict(list)
    blocked: Counter[tuple[int, str | None, str, str | None]] = Counter()
    for r in session.execute(query):
        key = (r.connection_id, r.to_pipeline, r.to_stage, r.owner)
        blocked[key] += 1
        if r.passed_at is not None:
            hours[key].append((r.passed_at - r.occurred_at).total_seconds() / 3600)
    return {key: {"blocked": n, "passed": len(hours[key]), "pass_median_hours": median(hours[key]),
                  "pass_p90_hours": quantile(hours[key], 0.9)} for key, n in blocked.items()}


def held_by(move: Any) -> ColumnElement[bool]:
    """Whether `move` (Transition or an alias of it, joined to its Record) holds its deal now: it was blocked
    and reverted, the deal stands in the stage it was sent back to, and no move of the deal came after it."""
    later = aliased(Transition)
    moved_since = exists().where(later.record_id == move.record_id, or_(
        later.occurred_at > move.occurred_at, and_(later.occurred_at == move.occurred_at, later.id > move.id)))
    return and_(move.decision == "blocked", Record.stage_external_id == move.from_stage, ~moved_since)


def stuck_now(session: Session, f: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Deals held in front of a gate now: the last move of the deal was blocked and reverted and the deal has
    not moved since (it stands in the stage it was sent back to). Per connection x pipeline x the stage it was
    blocked from x owner now: how many, and for how long (median and longest, hours)."""
    query = select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                   Record.owner_external_id.label("owner"), Transition.occurred_at) \
        .select_from(Transition).join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    query = query.where(deals_in(f), held_by(Transition))
    held: dict[tuple[int, str | None, str, str | None], list[float]] = defaultdict(list)
    for r in session.execute(query):
        held[(r.connection_id, r.to_pipeline, r.to_stage, r.owner)].append(
            (now - r.occurred_at).total_seconds() / 3600)
    return [{"connection_id": k[0], "to_pipeline": k[1], "to_stage": k[2], "owner": k[3], "deals": len(v),
             "held_median_hours": median(v), "held_max_hours": max(v)} for k, v in held.items()]


def missing_fields(session: Session, f: ReportFilter, limit: int = 10) -> list[dict[str, Any]]:
    """The fields most often missing or invalid on blocked and warned moves in the period: on how many moves
    each was (a field counts once per move), most first."""
    postgres = session.get_bind().dialect.name == "postgresql"
    issues = (func.json_array_elements(Transition.issues) if postgres else func.json_each(Transition.issues)) \
        .table_valued("value").alias("issue")
    item = issues.c.value
    field = item.op("->>")("field")
    label = func.max(item.op("->>")("label"))
    query = _scope(select(field.label("field"), label.label("label"),
                          func.count(func.distinct(Transition.id)).label("moves"))
                   .select_from(Transition), f).join(issues, true()).where(
        Transition.decision.in_(("blocked", "warned")), item.op("->>")("reason").in_(FIELD_REASONS)) \
        .group_by(field).order_by(func.count(func.distinct(Transition.id)).desc(), field).limit(limit)
    return [{"field": r.field, "label": r.label or r.field, "moves": int(r.moves)} for r in session.execute(query)]
