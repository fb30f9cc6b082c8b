"""ISO weeks, named by their Monday (YYYY-MM-DD, UTC), the same in SQL and in Python."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, DateTime, cast, func
from sqlalchemy.orm import Session


def week_of(session: Session, column: Any) -> ColumnElement[Any]:
    """The ISO week a UTC time falls in, computed by the database to group by (its Monday: a date on
    PostgreSQL, YYYY-MM-DD text on SQLite; `week_name` names either)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", column)), Date)
    return func.date(column, "-6 days", "weekday 1")  # SQLite: back 6 days, then on to the next Monday


def week_of_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The ISO week of a date column, as `week_of` gives it."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", cast(column, DateTime)), Date)
    return func.date(column, "-6 days", "weekday 1")


def week_name(value: date | str) -> str:
    """The Monday (YYYY-MM-DD) of a week `week_of` or `week_of_day` gave."""
    return value if isinstance(value, str) else value.isoformat()


def monday(moment: datetime) -> str:
    """The Monday of the ISO week of a UTC time, as week_of computes it."""
    day: date = moment.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def weeks_between(start: datetime, end: datetime) -> list[str]:
    """The Mondays of every ISO week that overlaps [start, end)."""
    found, week = [], date.fromisoformat(monday(start))
    while datetime.combine(week, time(), UTC) < end:
        found.append(week.isoformat())
        week += timedelta(days=7)
    return found
