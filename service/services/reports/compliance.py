"""Section 1, stage-gate compliance: per pipeline x stage x owner, the moves its gates applied to and what
Qualify decided, the moves that went around the gates, how long a blocked deal took to pass, the deals held
in front of a gate now, and the fields most often missing."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
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
    allowed, blocked (reverted), warned, audited, their share blocked, and the moves around the gates: seen
    only by sync, made through the API/automation/import/an integration, too old to gate."""
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


def stuck_now(session: Session, f: ReportFilter, now: datetime) -> list[dict[str, Any]]:
    """Deals held in front of a gate now: the last move of the deal was blocked and reverted and the deal has
    not moved since (it stands in the stage it was sent back to). Per connection x pipeline x the stage it was
    blocked from x owner now: how many, and for how long (median and longest, hours)."""
    last = select(Transition.record_id, func.max(Transition.id).label("last_id")).group_by(
        Transition.record_id).subquery()
    query = select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                   Record.owner_external_id.label("owner"), Transition.occurred_at, Transition.record_id) \
        .select_from(Transition).join(last, last.c.last_id == Transition.id) \
        .join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    query = query.where(deals_in(f), Transition.decision == "blocked",
                        Record.stage_external_id == Transition.from_stage)
    held: dict[tuple[int, str | None, str, str | None], list[float]] = defaultdict(list)
    for r in session.execute(query):
        held[(r.connection_id, r.to_pipeline, r.to_stage, r.owner)].append(
            (now - r.occurred_at).total_seconds() / 3600)
    return [{"connection_id": k[0], "to_pipeline": k[1], "to_stage": k[2], "owner": k[3], "deals": len(v),
             "held_median_hours": median(v), "held_max_hours": max(v)} for k, v in held.items()]


def missing_fields(session: Session, f: ReportFilter, limit: int = 10) -> list[dict[str, Any]]:
    """The fields most often missing or invalid on blocked and warned moves in the period: how many moves
    lacked each (a field is counted once per move)."""
    query = _scope(select(Transition.issues).select_from(Transition), f).where(
        Transition.decision.in_(("blocked", "warned")))
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    for (issues,) in session.execute(query):
        seen = {i["field"] for i in issues or () if i.get("reason") in FIELD_REASONS}
        counts.update(seen)
        for issue in issues or ():
            labels.setdefault(issue["field"], issue.get("label") or issue["field"])
    return [{"field": field, "label": labels[field], "moves": n} for field, n in counts.most_common(limit)]
