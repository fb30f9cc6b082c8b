"""What a report covers: a period and optional filters, as SQL conditions on transitions and on deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, select, text, true
from sqlalchemy.orm import Session, aliased

from service.models import Record, RecordScore, Transition


@dataclass(frozen=True)
class ReportFilter:
    """The period [start, end) and the filters every number of a report obeys (None: no filter)."""

    start: datetime
    end: datetime
    connection_id: int | None = None
    pipeline: str | None = None
    owner: str | None = None
    persona_id: int | None = None
    grade: str | None = None

    @property
    def by_deal(self) -> bool:
        """Whether a filter needs the deal's score (persona, grade) and so a join with it."""
        return self.persona_id is not None or self.grade is not None

    def as_dict(self) -> dict[str, Any]:
        """The filter as the report shows it."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "connection_id": self.connection_id,
                "pipeline": self.pipeline,
                "owner": self.owner, "persona_id": self.persona_id, "grade": self.grade}


DEFAULT_DAYS = 30


def report_filter(args: dict[str, Any], today: date) -> ReportFilter:
    """The filter of parsed report arguments: `from` and `to` are days (UTC), `to` included; by default the
    30 days up to today."""
    end_day = args.get("to") or today
    start_day = args.get("from_") or end_day - timedelta(days=DEFAULT_DAYS - 1)
    return ReportFilter(
        start=datetime.combine(start_day, time(), UTC), end=datetime.combine(end_day + timedelta(days=1), time(), UTC),
        connection_id=args.get("connection_id"), pipeline=args.get("pipeline"), owner=args.get("owner"),
        persona_id=args.get("persona_id"), grade=args.get("grade"))


def transition_owner() -> ColumnElement[Any]:
    """The deal's owner at the time of a move: none when the deal had none then; the deal's owner now for moves
    recorded before owners were kept (migration 0005), which are the ones without a mover kind. Asks the deal
    only for those, so a query of moves needs no join with records."""
    deal = aliased(Record)
    now = select(deal.owner_external_id).where(deal.id == Transition.record_id).scalar_subquery()
    return case((Transition.mover_kind.is_(None), now), else_=Transition.owner_id)


def scoped(query: Any, f: ReportFilter) -> Any:
    """`query` over transitions, joined with their deal's score when the filters need it, in the report's
    period and filters."""
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Transition.record_id)
    return query.where(moves_in(f))


def moves_in(f: ReportFilter) -> ColumnElement[bool]:
    """Transitions of the report: in the period and the filters (needs transitions joined, when `f.by_deal`,
    with record_scores)."""
    conditions: list[ColumnElement[bool]] = [Transition.occurred_at >= f.start, Transition.occurred_at < f.end]
    if f.connection_id is not None:
        conditions.append(Transition.connection_id == f.connection_id)
    if f.pipeline is not None:
        conditions.append(Transition.to_pipeline == f.pipeline)
    if f.owner is not None:
        conditions.append(transition_owner() == f.owner)
    return and_(*conditions, deal_filters(f, with_owner=False))


def deals_in(f: ReportFilter) -> ColumnElement[bool]:
    """Deals of the report by their connection, pipeline, owner, persona and grade (not by time: each section
    says which of the deal's times falls in the period)."""
    conditions: list[ColumnElement[bool]] = [Record.deleted.is_(False)]
    if f.connection_id is not None:
        conditions.append(Record.connection_id == f.connection_id)
    if f.pipeline is not None:
        conditions.append(Record.pipeline_external_id == f.pipeline)
    return and_(*conditions, deal_filters(f, with_owner=True))


def deal_filters(f: ReportFilter, *, with_owner: bool) -> ColumnElement[bool]:
    """The persona and grade filters (a deal's best persona and grade now), and the owner's when asked."""
    conditions: list[ColumnElement[bool]] = []
    if with_owner and f.owner is not None:
        conditions.append(Record.owner_external_id == f.owner)
    if f.persona_id is not None:
        conditions.append(RecordScore.best_persona_id == f.persona_id)
    if f.grade is not None:
        conditions.append(RecordScore.best_grade == f.grade)
    return and_(true(), *conditions)


def tune(session: Session | Connection) -> None:
    """Settings for the report's transaction on PostgreSQL: memory for its sorts and hashes, and no JIT (which
    compiled for up to a second per query and won back less)."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    if dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
