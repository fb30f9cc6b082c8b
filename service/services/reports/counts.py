"""The period's moves counted: the day counts (transition_days, transition_field_days) for the whole UTC days in
the period, the transitions themselves for the rest (the partial days at its ends, the moves the day counts
leave out, and every move when a filter needs the deal's score). Both sides count with the same SQL
(service/models/rollup_sql.py), so they add up to what counting the transitions alone would give."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, literal_column, or_, select, true, union_all
from sqlalchemy.orm import Session

from service.models import Transition
from service.models.records import TransitionDay, TransitionFieldDay
from service.models.rollup_sql import FIELD_DECISIONS, FIELD_REASONS, MEASURES
from service.services.reports.filters import ReportFilter, scoped, transition_owner
from service.services.reports.weeks import week_name, week_of, week_of_day


def whole_days(f: ReportFilter) -> tuple[date, date] | None:
    """The UTC days [first, last) that lie wholly in the period, when the day counts can answer for them (not
    when a filter needs the deal's score)."""
    start, end = f.start.astimezone(UTC), f.end.astimezone(UTC)
    first = start.date() if start.time() == time() else start.date() + timedelta(days=1)
    return (first, end.date()) if first < end.date() and not f.by_deal else None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def uncounted(f: ReportFilter) -> list[tuple[ReportFilter, bool]]:
    """The parts of the period the transitions answer for, each with whether only the moves the day counts
    leave out (no owner or pipeline recorded) are wanted in it: the whole period, or its partial first and last days
    and the whole days in between."""
    days = whole_days(f)
    if days is None:
        return [(f, False)]
    first, last = _midnight(days[0]), _midnight(days[1])
    return [*([(replace(f, end=first), False)] if f.start < first else []),
            (replace(f, start=first, end=last), True),
            *([(replace(f, start=last), False)] if last < f.end else [])]


def _left_out(only: bool) -> ColumnElement[bool]:
    """The moves the day counts leave out (the condition of ix_transitions_uncounted), or all."""
    return or_(Transition.owner_id.is_(None), Transition.to_pipeline.is_(None),
               Transition.mover_kind.is_(None)) if only else true()


def _day_filters(table: Any, f: ReportFilter, days: tuple[date, date]) -> list[ColumnElement[bool]]:
    conditions = [table.day >= days[0], table.day < days[1]]
    if f.connection_id is not None:
        conditions.append(table.connection_id == f.connection_id)
    if f.pipeline is not None:
        conditions.append(table.to_pipeline == f.pipeline)
    if f.owner is not None:
        conditions.append(table.owner_id == f.owner)
    return conditions


def move_counts(session: Session, f: ReportFilter, keys: Sequence[str]) -> Subquery:
    """Rows of `keys` (of connection_id, to_pipeline, to_stage, owner, week, direction) and every measure of
    rollup_sql.MEASURES, that add up to the report's moves: day counts and single moves."""
    days = whole_days(f)
    raw = {"connection_id": Transition.connection_id, "to_pipeline": Transition.to_pipeline,
           "to_stage": Transition.to_stage, "owner": transition_owner(), "direction": Transition.direction,
           "week": week_of(session, Transition.occurred_at)}
    measures: list[Any] = [literal_column(sql.format(r=Transition.__tablename__)).label(name)
                           for name, sql in MEASURES.items()]
    parts: list[Any] = []
    for part, only in uncounted(f):
        parts.append(scoped(select(*(raw[k].label(k) for k in keys), *measures).select_from(Transition), part)
                     .where(_left_out(only)))
    if days is None:
        return parts[0].subquery("counts")
    d = TransitionDay
    counted = {"connection_id": d.connection_id, "to_pipeline": d.to_pipeline, "to_stage": d.to_stage,
               "owner": d.owner_id, "direction": d.direction, "week": week_of_day(session, d.day)}
    rollup: Any = select(*(counted[k].label(k) for k in keys), *(getattr(d, name) for name in MEASURES)) \
        .where(*_day_filters(d, f, days))
    return union_all(rollup, *parts).subquery("counts")


CELL_KEYS = ("connection_id", "to_pipeline", "to_stage", "owner", "week", "direction")


def move_cells(session: Session, f: ReportFilter) -> list[dict[str, Any]]:
    """The report's moves counted per connection x pipeline x stage x owner x week x direction: one dict per
    cell with those keys (the week as its Monday) and every measure of rollup_sql.MEASURES."""
    counts = move_counts(session, f, CELL_KEYS)
    query = select(*(counts.c[k] for k in CELL_KEYS), *(func.sum(counts.c[m]).label(m) for m in MEASURES)) \
        .group_by(*(counts.c[k] for k in CELL_KEYS))
    return [{**{k: r._mapping[k] for k in CELL_KEYS}, "week": week_name(r.week),
             **{m: int(r._mapping[m]) for m in MEASURES}} for r in session.execute(query)]


def add_up(cells: Sequence[dict[str, Any]], keys: Sequence[str], measures: Sequence[str],
           where: Callable[[dict[str, Any]], bool] = lambda cell: True) -> list[dict[str, Any]]:
    """The sums of `measures` of the cells that pass `where`, by `keys` (one dict per group)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for cell in cells:
        if where(cell):
            key = tuple(cell[k] for k in keys)
            group = groups.setdefault(key, {**dict(zip(keys, key, strict=True)), **dict.fromkeys(measures, 0)})
            for m in measures:
                group[m] += cell[m]
    return list(groups.values())


def field_counts(session: Session, f: ReportFilter, limit: int) -> list[tuple[str, str | None, int]]:
    """The `limit` fields most often missing or invalid on the period's blocked and warned moves: (field, its
    greatest label or None, on how many moves), most first."""
    postgres = session.get_bind().dialect.name == "postgresql"
    issues = (func.json_array_elements(Transition.issues) if postgres else func.json_each(Transition.issues)) \
        .table_valued("value").alias("issue")
    item = issues.c.value
    field, label = item.op("->>")("field"), item.op("->>")("label")
    days = whole_days(f)
    parts: list[Any] = [
        scoped(select(field.label("field"), func.max(label).label("label"),
                      func.count(func.distinct(Transition.id)).label("moves")).select_from(Transition), part)
        .join(issues, true()).where(Transition.decision.in_(FIELD_DECISIONS), item.op("->>")("reason").in_(
            FIELD_REASONS), field.is_not(None), _left_out(only)).group_by(field) for part, only in uncounted(f)]
    if days is not None:
        d = TransitionFieldDay
        parts.append(select(d.field, func.max(func.nullif(d.label, "")).label("label"),
                            func.sum(d.moves).label("moves")).where(*_day_filters(d, f, days)).group_by(d.field))
    both: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    counts = both.subquery("fields")
    total = func.sum(counts.c.moves)
    query = select(counts.c.field, func.max(counts.c.label), total).group_by(counts.c.field) \
        .order_by(total.desc(), counts.c.field).limit(limit)
    return [(name, label_, int(n)) for name, label_, n in session.execute(query)]
