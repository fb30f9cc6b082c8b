"""Qualify's own reverts coming back as webhooks: expected when a revert is queued, consumed when its echo
arrives (so it is not taken for a manager's move), extended once the revert is delivered, purged when long
expired. Everything here runs in the caller's transaction, except `purge`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.models import ExpectedRevert
from service.runtime import Runtime

PURGE_AFTER = timedelta(days=1)


def expect(session: Session, connection_id: int, external_id: str, stage_id: str, pipeline_id: str,
           expires_at: datetime) -> None:
    """Record that the deal will come back into `stage_id` by Qualify's own hand until `expires_at`."""
    session.add(ExpectedRevert(connection_id=connection_id, external_id=external_id, stage_id=stage_id,
                               pipeline_id=pipeline_id, expires_at=expires_at))


def consume(session: Session, connection_id: int, external_id: str, stage_id: str, now: datetime) -> bool:
    """Mark the matching live expected revert consumed; True if there was one (the observation is an echo)."""
    row = session.scalars(
        select(ExpectedRevert).where(
            ExpectedRevert.connection_id == connection_id, ExpectedRevert.external_id == external_id,
            ExpectedRevert.stage_id == stage_id, ExpectedRevert.consumed_at.is_(None),
            ExpectedRevert.expires_at > now,
        ).order_by(ExpectedRevert.id)
    ).first()
    if row is None:
        return False
    row.consumed_at = now
    return True


def extend(session: Session, connection_id: int, external_id: str, stage_id: str, expires_at: datetime) -> None:
    """Push back the expiry of the unconsumed expected revert into `stage_id` (its revert was just delivered,
    so its echo is on its way now)."""
    session.execute(
        update(ExpectedRevert)
        .where(ExpectedRevert.connection_id == connection_id, ExpectedRevert.external_id == external_id,
               ExpectedRevert.stage_id == stage_id, ExpectedRevert.consumed_at.is_(None))
        .values(expires_at=expires_at)
    )


def purge(runtime: Runtime) -> int:
    """Delete expected reverts that expired more than a day ago; how many were deleted."""
    with runtime.uow() as uow:
        result = uow.session.execute(delete(ExpectedRevert).where(
            ExpectedRevert.expires_at < runtime.clock() - PURGE_AFTER))
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)
