"""The moves of a report beyond the gates' ledger, counted by the database: weekly move counts, the kinds of moves
(next stage, skips, backward...), and how far the deals created in the period went in their pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from service.models import Pipeline, Record, RecordScore, Stage, Transition
from service.services.reports.compliance import GATED
from service.services.reports.counts import add_up
from service.services.reports.deals import created_at
from service.services.reports.filters import ReportFilter, deals_in


def weekly(cells: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """From the report's move cells (counts.move_cells): per ISO week (its Monday), gated moves, blocked,
    required and unfilled fields."""
    measures = ("moves", "blocked", "required", "unfilled")
    return {row["week"]: {m: row[m] for m in measures}
            for row in add_up(cells, ("week",), measures, lambda cell: cell["direction"] in GATED)}


def directions(cells: Sequence[dict[str, Any]]) -> dict[str, int]:
    """From the report's move cells: how many moves in the period went forward to the next stage, skipped
    stages, went backward, entered a pipeline or were lost (not blocked ones: those did not happen in the CRM
    for long)."""
    found: dict[str, int] = {}
    for row in add_up(cells, ("direction",), ("moves", "blocked", "skips")):
        happened = row["moves"] - row["blocked"]
        if row["direction"] == "forward":
            found["next"], found["skip"] = happened - row["skips"], row["skips"]
        else:
            found[str(row["direction"])] = happened
    return {kind: n for kind, n in found.items() if n}


def reaches(session: Session, f: ReportFilter) -> list[tuple[int, str, int, int, int]]:
    """How far the report's deals created in the period went in each pipeline by the moves that happened (not
    blocked), counted by (connection, pipeline, furthest stage position by any path, furthest position strictly,
    deals). Positions count a pipeline's open and won stages from 0. Strictly: the deal entered at the first
    stage, and only its moves before the first one that skipped a stage (or entered further in) count."""
    position = (func.row_number().over(partition_by=Stage.pipeline_id, order_by=(Stage.order, Stage.id)) - 1)
    places = select(Pipeline.connection_id, Pipeline.external_id.label("pipeline"), Stage.external_id.label("stage"),
                    position.label("position")).join(Stage, Stage.pipeline_id == Pipeline.id) \
        .where(Stage.kind != "lost", Stage.archived.is_(False)).cte("places")
    m = _created_deals_moves(session, f)
    breaks = case((or_(and_(m.c.direction == "forward", m.c.stages_passed > 1),
                       and_(m.c.direction == "enter", places.c.position > 0)), 1), else_=0)
    starts = case((and_(m.c.direction == "enter", places.c.position == 0), 1), else_=0)
    deal = (m.c.record_id, m.c.connection_id, m.c.to_pipeline)
    moves = select(*deal, m.c.occurred_at, places.c.position,
                   func.min(case((breaks == 1, m.c.occurred_at))).over(partition_by=deal).label("broke_at"),
                   func.max(starts).over(partition_by=deal).label("started")) \
        .join(places, and_(places.c.connection_id == m.c.connection_id, places.c.pipeline == m.c.to_pipeline,
                           places.c.stage == m.c.to_stage)).cte("moves")
    counted = case((and_(moves.c.started == 1, or_(moves.c.broke_at.is_(None),
                                                   moves.c.occurred_at < moves.c.broke_at)), moves.c.position))
    per_deal = select(moves.c.connection_id, moves.c.to_pipeline, func.max(moves.c.position).label("any_reach"),
                      func.coalesce(func.max(counted), -1).label("strict_reach")) \
        .group_by(moves.c.record_id, moves.c.connection_id, moves.c.to_pipeline).subquery()
    query = select(per_deal.c.connection_id, per_deal.c.to_pipeline, per_deal.c.any_reach, per_deal.c.strict_reach,
                   func.count()).group_by(per_deal.c.connection_id, per_deal.c.to_pipeline, per_deal.c.any_reach,
                                          per_deal.c.strict_reach)
    return [(int(c), str(p), int(a), int(s), int(n)) for c, p, a, s, n in session.execute(query)]


def _created_deals_moves(session: Session, f: ReportFilter) -> Any:
    """The moves that happened (not blocked) of the report's deals created in the period. On PostgreSQL each
    deal's are looked up through its index (a lateral subquery the planner keeps): those deals are a fraction
    of all, and the planner would rather read every move."""
    deals = select(Record.id).select_from(Record)
    if f.by_deal:
        deals = deals.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    deals = deals.where(deals_in(f), created_at() >= f.start, created_at() < f.end)
    columns = (Transition.record_id, Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
               Transition.occurred_at, Transition.direction, Transition.stages_passed)
    if session.get_bind().dialect.name != "postgresql":
        return deals.with_only_columns(*columns).join(Transition, Transition.record_id == Record.id) \
            .where(Transition.decision != "blocked").subquery("deal_moves")
    moves = select(*columns).where(Transition.record_id == Record.id, Transition.decision != "blocked") \
        .offset(0).lateral("deal_moves")
    return deals.with_only_columns(*moves.c).join(moves, true()).subquery("deal_moves")
