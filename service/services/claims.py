"""Claiming ready work for one worker: events to process and outbox actions to deliver."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from service.runtime import Runtime


def take(runtime: Runtime, session: Session, ready: Select[Any], limit: int,
         mark: Callable[[Any], None]) -> Sequence[Any]:
    """Up to `limit` rows of `ready` (a query for ready work, oldest first), each marked as taken in `session`'s
    transaction, which the caller commits. On PostgreSQL the rows are locked with SKIP LOCKED, so two workers
    never take the same row; SQLite has one writer at a time."""
    query = ready.limit(limit)
    if runtime.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    for row in rows:
        mark(row)
    return rows


def claim(runtime: Runtime, ready: Select[Any], limit: int, mark: Callable[[Any], None]) -> list[int]:
    """Take up to `limit` rows of `ready` for this worker (see `take`) and commit; their ids."""
    with runtime.uow() as uow:
        rows = take(runtime, uow.session, ready, limit, mark)
        uow.commit()
        return [row.id for row in rows]
