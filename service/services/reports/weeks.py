"""ISO weeks, named by their Monday (YYYY-MM-DD, UTC), the same in SQL and in Python."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Session


def week_of(session: Session, column: Any) -> ColumnElement[str]:
    """The Monday of the ISO week a UTC time falls in, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.date_trunc("week", func.timezone("UTC", column)), "YYYY-MM-DD")
    return func.date(column, "-6 days", "weekday 1")  # SQLite: back 6 days, then on to the next Monday


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
