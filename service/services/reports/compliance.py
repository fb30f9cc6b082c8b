"""Section 1, stage-gate compliance: per pipeline x stage x owner, the moves its gates applied to and what
Qualify decided, the moves that went around the gates, how long a blocked deal took to pass, the deals held
in front of a gate now, and the fields most often missing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, false, func, literal, or_, select
from sqlalchemy.orm import Session

from service.domain.report_math import median, quantile, share
from service.models import Record, RecordScore, Transition
from service.models.rollup_sql import AUTOMATED, FIELD_REASONS
from service.services.reports.counts import add_up, field_counts
from service.services.reports.filters import ReportFilter, deals_in, scoped, transition_owner

__all__ = ["AUTOMATED", "FIELD_REASONS", "GATED", "gated_moves", "held_by", "missing_fields", "stuck_now",
           "time_to_pass"]

GATED = ("forward", "enter", "to_lost")  # directions a stage's gates apply to (backward and same: never)
CELL = ("connection_id", "to_pipeline", "to_stage", "owner")
COUNTS = ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old", "required",
          "unfilled")
Key = tuple[int, str | None, str, str | None]


def gated_moves(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """From the report's move cells (counts.move_cells): one row per connection x pipeline x stage x owner
    with the moves into the stage its gates applied to: allowed, blocked (reverted), warned, audited, their
    share blocked, the moves around the gates (seen only by sync, made through the API/automation/import/an
    integration, too old to gate), and the fields the gates required on those moves and how many of them were
    not filled."""
    rows = add_up(cells, CELL, COUNTS, lambda cell: cell["direction"] in GATED)
    for row in rows:
        row["blocked_share"] = share(row["blocked"], row["moves"])
    return rows


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _hours(later: Any, earlier: Any) -> Any:
    """Hours between two times on PostgreSQL."""
    return cast(func.extract("epoch", later - earlier), Float) / 3600


def time_to_pass(session: Session, f: ReportFilter) -> dict[Key, dict[str, Any]]:
    """For each connection x pipeline x stage x owner: how long deals blocked in the period took to enter the
    stage after all (hours from the block to the first later move into it that was not blocked, which the
    block's passed_at keeps; median and 90th percentile of those that did), and how many did."""
    blocked = scoped(select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                            transition_owner().label("owner"), Transition.occurred_at, Transition.passed_at)
                     .select_from(Transition), f).where(Transition.decision == "blocked")
    if _postgres(session):
        b = blocked.subquery()
        took = _hours(b.c.passed_at, b.c.occurred_at)
        query = select(*(b.c[k] for k in CELL), func.count(), func.count(b.c.passed_at),
                       func.percentile_cont(0.5).within_group(took), func.percentile_cont(0.9).within_group(took)) \
            .group_by(*(b.c[k] for k in CELL))
        names = ("blocked", "passed", "pass_median_hours", "pass_p90_hours")
        return {tuple(row[:4]): dict(zip(names, row[4:], strict=True))  # type: ignore[misc]
                for row in session.execute(query)}
    hours: dict[Key, list[float]] = defaultdict(list)
    counted: Counter[Key] = Counter()
    for r in session.execute(blocked):
        key = (r.connection_id, r.to_pipeline, r.to_stage, r.owner)
        counted[key] += 1
        if r.passed_at is not None:
            hours[key].append((r.passed_at - r.occurred_at).total_seconds() / 3600)
    return {key: {"blocked": n, "passed": len(hours[key]), "pass_median_hours": median(hours[key]),
                  "pass_p90_hours": quantile(hours[key], 0.9)} for key, n in counted.items()}


def held_by(move: Any) -> ColumnElement[bool]:
    """Whether `move` (Transition or an alias of it, joined to its Record) holds its deal now: it was blocked
    and reverted, the deal stands in the stage it was sent back to (the stage it came from; for a deal blocked
    as it entered a pipeline, an earlier stage of that pipeline), and no move of the deal came after it (the
    block's `followed`)."""
    sent_back = or_(Record.stage_external_id == move.from_stage,
                    and_(move.from_stage.is_(None), Record.pipeline_external_id == move.to_pipeline,
                         Record.stage_external_id != move.to_stage))
    return and_(move.decision == "blocked", sent_back, move.followed == false())


def _held(f: ReportFilter) -> Any:
    query: Any = select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                   Record.owner_external_id.label("owner"), Transition.occurred_at) \
        .select_from(Transition).join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    return query.where(deals_in(f), held_by(Transition))


def stuck_now(session: Session, f: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Deals held in front of a gate now: the last move of the deal was blocked and reverted and the deal has
    not moved since (it stands in the stage it was sent back to). Per connection x pipeline x the stage it was
    blocked from x owner now: how many, and for how long (median and longest, hours)."""
    names = ("connection_id", "to_pipeline", "to_stage", "owner", "deals", "held_median_hours", "held_max_hours")
    if _postgres(session):
        held = _held(f).subquery()
        hours = _hours(literal(now, held.c.occurred_at.type), held.c.occurred_at)
        query = select(*(held.c[k] for k in CELL), func.count(), func.percentile_cont(0.5).within_group(hours),
                       func.max(hours)).group_by(*(held.c[k] for k in CELL))
        return [dict(zip(names, row, strict=True)) for row in session.execute(query)]
    found: dict[Key, list[float]] = defaultdict(list)
    for r in session.execute(_held(f)):
        found[(r.connection_id, r.to_pipeline, r.to_stage, r.owner)].append(
            (now - r.occurred_at).total_seconds() / 3600)
    return [dict(zip(names, (*k, len(v), median(v), max(v)), strict=True)) for k, v in found.items()]


def missing_fields(session: Session, f: ReportFilter, limit: int = 10) -> list[dict[str, Any]]:
    """The fields most often missing or invalid on blocked and warned moves in the period: on how many moves
    each was (a field counts once per move), most first."""
    return [{"field": field, "label": label or field, "moves": n}
            for field, label, n in field_counts(session, f, limit)]
