"""The moves of a report beyond the gates' ledger: portrait completeness when deals entered a stage, weekly
move counts, and the path deals took through a pipeline (stage conversion, skips, backward moves)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from service.models import Record, RecordScore, Transition
from service.services.reports.compliance import GATED
from service.services.reports.deals import created_at
from service.services.reports.filters import ReportFilter, deals_in, moves_in, transition_owner


def week_of(session: Session, column: Any) -> ColumnElement[str]:
    """The Monday (YYYY-MM-DD) of the ISO week a UTC time falls in, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.date_trunc("week", func.timezone("UTC", column)), "YYYY-MM-DD")
    return func.date(column, "-6 days", "weekday 1")  # SQLite: back 6 days, then on to the next Monday


def _scope(query: Any, f: ReportFilter) -> Any:
    query = query.select_from(Transition).join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    return query.where(moves_in(f))


def completeness(session: Session, f: ReportFilter) -> list[dict[str, Any]]:
    """Per connection x pipeline x stage x owner: over the moves into the stage its gates applied to, how many
    required fields there were (summed over moves) and how many of them were filled when the deal entered."""
    owner = transition_owner().label("owner")
    query = _scope(select(Transition.connection_id, Transition.to_pipeline, Transition.to_stage, owner,
                          func.count().label("moves"), func.sum(Transition.required_fields).label("required"),
                          func.sum(Transition.unfilled_fields).label("unfilled")), f) \
        .where(Transition.direction.in_(GATED)) \
        .group_by(Transition.connection_id, Transition.to_pipeline, Transition.to_stage, owner)
    return [dict(r._mapping) for r in session.execute(query)]


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


def paths(session: Session, f: ReportFilter) -> dict[int, list[tuple[int, str | None, str, str, int]]]:
    """The moves that happened (not blocked) of the report's deals created in the period, at any time, by
    deal, oldest first: (connection, pipeline, stage, direction, stages passed)."""
    query = select(Transition.record_id, Transition.connection_id, Transition.to_pipeline, Transition.to_stage,
                   Transition.direction, Transition.stages_passed).select_from(Transition) \
        .join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    query = query.where(deals_in(f), created_at() >= f.start, created_at() < f.end,
                        Transition.decision != "blocked") \
        .order_by(Transition.record_id, Transition.occurred_at, Transition.id)
    found: dict[int, list[tuple[int, str | None, str, str, int]]] = defaultdict(list)
    for record_id, *step in session.execute(query):
        found[record_id].append(tuple(step))  # type: ignore[arg-type]
    return found
