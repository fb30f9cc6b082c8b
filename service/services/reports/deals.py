"""The deals of a report, counted by the database: the deals created in the period (by owner, best persona,
grade and week) and the deals won or lost closed in it (by owner, grade, persona matched or not, ever blocked or
not, week and outcome), and the cycle of the won ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from service.domain.report_math import median
from service.models import Pipeline, Record, RecordScore, Stage
from service.models.records import DealReach
from service.services.reports.filters import ReportFilter, deals_in
from service.services.reports.weeks import week_name, week_of


@dataclass(frozen=True)
class DealGroup:
    """How many deals share these traits (`outcome` and `ever_blocked` only for closed deals)."""

    owner: str | None
    persona_id: int | None
    grade: str | None
    week: str
    deals: int
    outcome: str = "open"
    ever_blocked: bool = False


def created_at() -> ColumnElement[datetime]:
    """When a deal was created: in the CRM, else when Qualify first stored it."""
    return func.coalesce(Record.crm_created_at, Record.created_at)


def closed_at() -> ColumnElement[datetime]:
    """When a deal was closed: the CRM's close date, else when it entered its closing stage."""
    return func.coalesce(Record.closed_at, Record.stage_changed_at)


def stage_kind_join(query: Any) -> tuple[Any, ColumnElement[str]]:
    """`query` over records joined with the stage each deal stands in, and that stage's kind (open when the
    stage is not mirrored)."""
    query = query.outerjoin(Pipeline, and_(Pipeline.connection_id == Record.connection_id,
                                           Pipeline.external_id == Record.pipeline_external_id)) \
        .outerjoin(Stage, and_(Stage.pipeline_id == Pipeline.id, Stage.external_id == Record.stage_external_id))
    return query, func.coalesce(Stage.kind, "open")


def created_groups(session: Session, f: ReportFilter) -> list[DealGroup]:
    """The report's deals created in the period, counted by owner, best persona, grade and week."""
    week = week_of(session, created_at()).label("week")
    keys = (Record.owner_external_id, RecordScore.best_persona_id, RecordScore.best_grade, week)
    query = select(*keys, func.count()).select_from(Record) \
        .outerjoin(RecordScore, RecordScore.record_id == Record.id) \
        .where(deals_in(f), created_at() >= f.start, created_at() < f.end).group_by(*keys)
    return [DealGroup(owner, persona, grade, week_name(w), n) for owner, persona, grade, w, n in session.execute(query)]


def closed_groups(session: Session, f: ReportFilter) -> list[DealGroup]:
    """The report's deals won or lost, closed in the period, counted by owner, best persona, grade, week,
    outcome and whether a move of theirs was ever blocked."""
    week = week_of(session, closed_at()).label("week")
    query, blocked = _with_ever_blocked(select(Record.owner_external_id, RecordScore.best_persona_id,
                                               RecordScore.best_grade, week).select_from(Record)
                                        .outerjoin(RecordScore, RecordScore.record_id == Record.id), f)
    query, kind = stage_kind_join(query.add_columns(blocked.label("blocked"), func.count()))
    query = query.add_columns(kind.label("outcome")).where(
        deals_in(f), closed_at() >= f.start, closed_at() < f.end, kind.in_(("won", "lost"))) \
        .group_by(Record.owner_external_id, RecordScore.best_persona_id, RecordScore.best_grade, week, blocked, kind)
    return [DealGroup(owner, persona, grade, week_name(w), n, outcome, bool(ever))
            for owner, persona, grade, w, ever, n, outcome in session.execute(query)]


def _with_ever_blocked(query: Any, f: ReportFilter) -> tuple[Any, ColumnElement[bool]]:
    """`query` over records, and whether a move of the deal was ever blocked, from the reaches the database keeps
    per deal: a look-up per deal for one owner's deals; for more, a join with the deals ever blocked, which
    PostgreSQL hashes once for all its parallel workers (a hashed `IN` is built by each: a third slower at a
    million deals)."""
    if f.owner is not None:
        return query, exists().where(DealReach.record_id == Record.id, DealReach.blocked > 0)
    ever = select(DealReach.record_id).where(DealReach.blocked > 0).distinct().subquery("ever_blocked")
    return query.outerjoin(ever, ever.c.record_id == Record.id), ever.c.record_id.is_not(None)


def won_cycle_days(session: Session, f: ReportFilter) -> float | None:
    """The median days from creation to close of the report's deals won in the period (deals closed before
    they were created left out); None without any. PostgreSQL computes the median; SQLite (the embedded mode,
    small data) gives the days."""
    postgres = session.get_bind().dialect.name == "postgresql"
    days = func.extract("epoch", closed_at() - created_at()) / 86400 if postgres else \
        func.julianday(closed_at()) - func.julianday(created_at())
    query, kind = stage_kind_join(select(days.label("days")).select_from(Record)
                                  .outerjoin(RecordScore, RecordScore.record_id == Record.id))
    query = query.where(deals_in(f), closed_at() >= f.start, closed_at() < f.end, kind == "won",
                        closed_at() >= created_at())
    if postgres:
        value = session.scalar(select(func.percentile_cont(0.5).within_group(query.subquery().c.days)))
        return None if value is None else float(value)
    return median([float(d) for (d,) in session.execute(query)])
