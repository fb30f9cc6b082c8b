"""The deals of a report: the deals created in the period (their persona mix) and the deals closed in it
(won or lost by their stage, with grade, persona and whether a move of theirs was ever blocked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from service.models import Pipeline, Record, RecordScore, Stage, Transition
from service.services.reports.filters import ReportFilter, deals_in


@dataclass(frozen=True)
class Deal:
    """What the deal sections need of one deal."""

    id: int
    owner: str | None
    persona_id: int | None
    grade: str | None
    created_at: datetime
    closed_at: datetime | None
    outcome: str  # open | won | lost (by the kind of the stage it stands in)
    ever_blocked: bool
    amount: Any


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


def _deals(session: Session, f: ReportFilter, in_period: ColumnElement[bool], *, closed: bool = False) -> list[Deal]:
    blocked = exists().where(Transition.record_id == Record.id, Transition.decision == "blocked")
    query, kind = stage_kind_join(
        select(Record.id, Record.owner_external_id, RecordScore.best_persona_id, RecordScore.best_grade,
               created_at(), closed_at(), func.coalesce(Stage.kind, "open"), blocked, Record.amount_value)
        .outerjoin(RecordScore, RecordScore.record_id == Record.id))
    query = query.where(deals_in(f), in_period)
    if closed:
        query = query.where(kind.in_(("won", "lost")))
    return [Deal(*row) for row in session.execute(query)]


def created_in(session: Session, f: ReportFilter) -> list[Deal]:
    """The report's deals created in the period."""
    return _deals(session, f, and_(created_at() >= f.start, created_at() < f.end))


def closed_in(session: Session, f: ReportFilter) -> list[Deal]:
    """The report's deals won or lost, closed in the period."""
    return _deals(session, f, and_(closed_at() >= f.start, closed_at() < f.end), closed=True)
