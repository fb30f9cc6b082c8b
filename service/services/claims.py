"""Claiming ready work for one worker: events to process and outbox actions to deliver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select

from service.runtime import Runtime


def claim(runtime: Runtime, ready: Select[Any], limit: int, mark: Callable[[Any], None]) -> list[int]:
    """Take up to `limit` rows of `ready` (a query for ready work, oldest first) for this worker: mark each
    as taken and commit; their ids. On PostgreSQL the rows are locked with SKIP LOCKED, so two workers never
    take the same row; SQLite has one writer at a time."""
    query = ready.limit(limit)
    if runtime.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with runtime.uow() as uow:
        rows = uow.session.scalars(query).all()
        for row in rows:
            mark(row)
        uow.commit()
        return [row.id for row in rows]
