"""The moves of a report beyond the gates' ledger, counted by the database: weekly move counts, the kinds of moves
(next stage, skips, backward...), and how far the deals created in the period went in their pipeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from service.models import Pipeline, Record, RecordScore, Stage, Transition
from service.services.reports.compliance import GATED
from service.services.reports.deals import created_at
from service.services.reports.filters import ReportFilter, deals_in, moves_in
from service.services.reports.weeks import week_of


def _scope(query: Any, f: ReportFilter) -> Any:
    query = query.select_from(Transition).join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    return query.where(moves_in(f))


def weekly(session: Session, f: ReportFilter) -> dict[str, dict[str, int]]:
    """Per ISO week (its Monday): gated moves, blocked, required and unfilled fields."""
    week = week_of(session, Transition.occurred_at).label("week")
    query = _scope(select(week, func.count().label("moves"),
                          func.sum(case((Transition.decision == "blocked", 1), else_=0)).label("blocked"),
                          func.sum(Transition.required_fields).label("required"),
                          func.sum(Transition.unfilled_fields).label("unfilled")), f) \
        .where(Transition.direction.in_(GATED)).group_by(week)
    return {str(r.week): {"moves": int(r.moves), "blocked": int(r.blocked or 0), "required": int(r.required or 0),
                          "unfilled": int(r.unfilled or 0)} for r in session.execute(query)}


def directions(session: Session, f: ReportFilter) -> dict[str, int]:
    """How many moves in the period went forward to the next stage, skipped stages, went backward, entered a
    pipeline or were lost (not blocked ones: those did not happen in the CRM for long)."""
    kind = case((Transition.direction != "forward", Transition.direction),
                (Transition.stages_passed > 1, "skip"), else_="next").label("kind")
    query = _scope(select(kind, func.count()), f).where(Transition.decision != "blocked").group_by(kind)
    return {str(k): int(n) for k, n in session.execute(query)}


def reaches(session: Session, f: ReportFilter) -> list[tuple[int, str, int, int, int]]:
    """How far the report's deals created in the period went in each pipeline by the moves that happened (not
    blocked), counted by (connection, pipeline, furthest stage position by any path, furthest position strictly,
    deals). Positions count a pipeline's open and won stages from 0. Strictly: the deal entered at the first
    stage, and only its moves before the first one that skipped a stage (or entered further in) count."""
    position = (func.row_number().over(partition_by=Stage.pipeline_id, order_by=(Stage.order, Stage.id)) - 1)
    places = select(Pipeline.connection_id, Pipeline.external_id.label("pipeline"), Stage.external_id.label("stage"),
                    position.label("position")).join(Stage, Stage.pipeline_id == Pipeline.id) \
        .where(Stage.kind != "lost", Stage.archived.is_(False)).cte("places")
    breaks = case((or_(and_(Transition.direction == "forward", Transition.stages_passed > 1),
                       and_(Transition.direction == "enter", places.c.position > 0)), 1), else_=0)
    starts = case((and_(Transition.direction == "enter", places.c.position == 0), 1), else_=0)
    deal = (Transition.record_id, Transition.connection_id, Transition.to_pipeline)
    steps = select(*deal, Transition.occurred_at, places.c.position,
                   func.min(case((breaks == 1, Transition.occurred_at))).over(partition_by=deal).label("broke_at"),
                   func.max(starts).over(partition_by=deal).label("started")) \
        .select_from(Transition).join(Record, Record.id == Transition.record_id) \
        .join(places, and_(places.c.connection_id == Transition.connection_id,
                           places.c.pipeline == Transition.to_pipeline, places.c.stage == Transition.to_stage))
    if f.by_deal:
        steps = steps.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    moves = steps.where(deals_in(f), created_at() >= f.start, created_at() < f.end,
                        Transition.decision != "blocked").cte("moves")
    counted = case((and_(moves.c.started == 1, or_(moves.c.broke_at.is_(None),
                                                   moves.c.occurred_at < moves.c.broke_at)), moves.c.position))
    per_deal = select(moves.c.connection_id, moves.c.to_pipeline, func.max(moves.c.position).label("any_reach"),
                      func.coalesce(func.max(counted), -1).label("strict_reach")) \
        .group_by(moves.c.record_id, moves.c.connection_id, moves.c.to_pipeline).subquery()
    query = select(per_deal.c.connection_id, per_deal.c.to_pipeline, per_deal.c.any_reach, per_deal.c.strict_reach,
                   func.count()).group_by(per_deal.c.connection_id, per_deal.c.to_pipeline, per_deal.c.any_reach,
                                          per_deal.c.strict_reach)
    return [(int(c), str(p), int(a), int(s), int(n)) for c, p, a, s, n in session.execute(query)]
